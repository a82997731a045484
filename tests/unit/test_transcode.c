/* transcode_file through its C API, as the worker calls it: the
 * callbacks, the result fields, the JSON, refusals and options. The
 * fixture is made with the ffmpeg program; without it the test skips. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/log.h>

#include "chorus/transcode.h"
#include "test.h"

struct calls {
    int durations, progresses;
    double duration, last, min;
    int backwards;
};

static void on_duration(void *opaque, double seconds)
{
    struct calls *c = opaque;

    c->durations++;
    c->duration = seconds;
}

static void on_progress(void *opaque, double fraction)
{
    struct calls *c = opaque;

    if (fraction < c->last)
        c->backwards++;
    if (c->progresses++ == 0 || fraction < c->min)
        c->min = fraction;
    c->last = fraction;
}

static int exists(const char *dir, const char *name)
{
    char path[700];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-transcode-XXXXXX", clip[600], cmd[1400];
    char outdir[600], junk[600];
    struct transcode_options o;
    struct transcode_result res;
    struct calls c = {0};
    json_t *j;
    FILE *fp;
    int rc;

    av_log_set_level(AV_LOG_ERROR);
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        printf("skipped: no ffmpeg program\n");
        return 0;
    }
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(clip, sizeof(clip), "%s/clip", dir);
    snprintf(outdir, sizeof(outdir), "%s/out", dir);
    snprintf(junk, sizeof(junk), "%s/junk", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=320x240:rate=25 -f lavfi -i sine=sample_rate=44100 "
             "-t 3 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "
             "-f mp4 %s",
             clip);
    CHECK(system(cmd) == 0);
    mkdir(outdir, 0700);

    /* Defaults. */
    transcode_options_default(&o);
    CHECK_INT(o.max_side, 1920);
    CHECK_INT(o.max_duration_s, 600);
    CHECK_INT(o.max_fps, 30);
    CHECK(o.progress == NULL && o.duration == NULL);

    /* A transcode with callbacks. */
    o.progress = on_progress;
    o.duration = on_duration;
    o.opaque = &c;
    rc = transcode_file(clip, outdir, &o, &res);
    CHECK_INT(rc, 0);
    CHECK_STR(res.error, "");
    CHECK_INT(c.durations, 1);
    CHECK(fabs(c.duration - 3.0) < 0.1);
    CHECK(c.progresses >= 1);
    /* About once a second, plus the final 1.0. */
    CHECK(c.progresses <= (int)res.seconds + 2);
    CHECK_INT(c.backwards, 0);
    CHECK(c.min >= 0 && c.last == 1.0);
    CHECK_INT(res.out_width, 320);
    CHECK_INT(res.out_height, 240);
    CHECK_INT(res.out_fps_num, 25);
    CHECK_INT(res.out_fps_den, 1);
    CHECK_INT(res.out_frames, 75);
    CHECK(llabs(res.out_duration_ms - 3000) < 100);
    CHECK(res.has_audio);
    CHECK(res.out_bytes > 1000 && res.thumb_bytes > 1000);
    CHECK_STR(res.in_video_codec, "h264");
    CHECK_STR(res.in_audio_codec, "aac");
    CHECK_INT(res.in_sample_rate, 44100);
    CHECK(fabs(res.loudness_out + 16) < 1);
    CHECK(exists(outdir, "video.mp4") && exists(outdir, "thumb.jpg"));
    CHECK(!exists(outdir, "video.mp4.tmp") && !exists(outdir, "thumb.jpg.tmp"));

    j = transcode_result_json(&res);
    CHECK(j != NULL);
    CHECK_INT(json_integer_value(
                  json_object_get(json_object_get(j, "output"), "width")),
              320);
    CHECK(json_is_true(json_object_get(j, "has_audio")));
    CHECK(json_is_array(json_object_get(j, "warnings")));
    CHECK(json_is_object(json_object_get(j, "loudness")));
    json_decref(j);
    transcode_result_release(&res);
    CHECK_INT(res.out_width, 0);

    /* As a sandboxed job: every file through a descriptor, the input's
     * name unknown, and the MP4's index still moved to the front (read
     * back through the output's descriptor). */
    {
        char vpath[700], tpath[700], *mp4 = NULL, *moov, *mdat;
        long size = 0;

        snprintf(vpath, sizeof(vpath), "%s/fd-video.mp4", dir);
        snprintf(tpath, sizeof(tpath), "%s/fd-thumb.jpg", dir);
        transcode_options_default(&o);
        o.input_fd = open(clip, O_RDONLY);
        o.video_fd = open(vpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
        o.thumb_fd = open(tpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
        CHECK(o.input_fd >= 0 && o.video_fd >= 0 && o.thumb_fd >= 0);
        CHECK_INT(transcode_file("/nonexistent/input", outdir, &o, &res), 0);
        CHECK_STR(res.error, "");
        CHECK_INT(res.out_frames, 75);
        CHECK((fp = fopen(vpath, "rb")) != NULL);
        if (fp != NULL) {
            fseek(fp, 0, SEEK_END);
            size = ftell(fp);
            rewind(fp);
            mp4 = malloc((size_t)size);
            CHECK(mp4 != NULL &&
                  fread(mp4, 1, (size_t)size, fp) == (size_t)size);
            fclose(fp);
        }
        CHECK_INT(size, res.out_bytes);
        moov = mp4 != NULL ? memmem(mp4, (size_t)size, "moov", 4) : NULL;
        mdat = mp4 != NULL ? memmem(mp4, (size_t)size, "mdat", 4) : NULL;
        CHECK(moov != NULL && mdat != NULL && moov < mdat);
        free(mp4);
        transcode_result_release(&res);
        close(o.input_fd);
        close(o.video_fd);
        close(o.thumb_fd);
    }

    /* NULL options mean the defaults; a refusal leaves nothing. */
    CHECK_INT(transcode_file(clip, outdir, NULL, &res), 0);
    fp = fopen(junk, "w");
    if (fp != NULL) {
        fputs("not a video\n", fp);
        fclose(fp);
    }
    snprintf(cmd, sizeof(cmd), "rm -f %s/video.mp4 %s/thumb.jpg", outdir,
             outdir);
    CHECK(system(cmd) == 0);
    CHECK_INT(transcode_file(junk, outdir, NULL, &res), -1);
    CHECK(strlen(res.error) > 10);
    CHECK(!exists(outdir, "video.mp4") && !exists(outdir, "thumb.jpg"));
    CHECK(!exists(outdir, "video.mp4.tmp"));

    /* Limits come from the options. */
    transcode_options_default(&o);
    o.max_duration_s = 2;
    CHECK_INT(transcode_file(clip, outdir, &o, &res), -1);
    CHECK(strstr(res.error, "limit is 2 s") != NULL);
    o.max_duration_s = 0;
    CHECK_INT(transcode_file(clip, outdir, &o, &res), -1);
    CHECK(strstr(res.error, "options") != NULL);

    /* The studio's versions, a thread each: all four made, every frame. */
    {
        static const char *const names[] = {"9x16", "1x1", "4x5", "16x9"};
        static const int sizes[][2] = {
            {1080, 1920}, {1080, 1080}, {1080, 1350}, {1920, 1080}};
        struct transcode_versions_options vo;
        struct transcode_versions_result vr;
        char vdir[640], name[32];

        snprintf(vdir, sizeof(vdir), "%s/versions", dir);
        mkdir(vdir, 0700);
        memset(&vo, 0, sizeof(vo));
        vo.input_fd = -1;
        vo.n = 4;
        for (int i = 0; i < 4; i++) {
            vo.v[i].format = i;
            vo.v[i].out_fd = vo.v[i].thumb_fd = -1;
            vo.v[i].name = names[i];
            vo.v[i].hashtag = "#FreeThemAll";
        }
        CHECK_INT(transcode_versions(clip, vdir, &vo, &vr), 0);
        CHECK_STR(vr.error, "");
        CHECK_INT(vr.n, 4);
        for (int i = 0; i < 4; i++) {
            CHECK_INT(vr.v[i].width, sizes[i][0]);
            CHECK_INT(vr.v[i].height, sizes[i][1]);
            /* The fps filter may end a frame early, as the ffmpeg
             * program's does with the same graph. */
            CHECK(vr.v[i].frames == 74 || vr.v[i].frames == 75);
            CHECK_INT(vr.v[i].frames, vr.v[0].frames);
            CHECK(vr.v[i].bytes > 1000);
            snprintf(name, sizeof(name), "v-%s.mp4", names[i]);
            CHECK(exists(vdir, name));
            snprintf(name, sizeof(name), "v-%s.jpg", names[i]);
            CHECK(exists(vdir, name));
        }

        /* A disk that fills mid-way (files may not grow past 64 KiB, as
         * with a quota): the versions' threads fail writing frames, the
         * job fails with the reason, nothing waits forever, and the
         * files the job made itself are gone. */
        snprintf(cmd, sizeof(cmd), "rm -f %s/v-*", vdir);
        CHECK(system(cmd) == 0);
        {
            struct rlimit was, small = {64 * 1024, 64 * 1024};
            void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);

            CHECK(getrlimit(RLIMIT_FSIZE, &was) == 0);
            small.rlim_max = was.rlim_max;
            CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
            CHECK_INT(transcode_versions(clip, vdir, &vo, &vr), -1);
            CHECK(setrlimit(RLIMIT_FSIZE, &was) == 0);
            signal(SIGXFSZ, old_xfsz);
        }
        CHECK(strstr(vr.error, "cannot write a version") != NULL);
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof(name), "v-%s.mp4", names[i]);
            CHECK(!exists(vdir, name));
        }
    }

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return TEST_RESULT();
}
