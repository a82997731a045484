/*
 * The one C++ file: OpenCV's cascade classifiers behind the C interface
 * of chorus/faces.h. Every entry point catches everything, so no C++
 * exception ever unwinds into the C pipeline.
 */
#include "chorus/faces.h"

#include <cstdio>
#include <exception>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/core/ocl.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <vector>

struct faces {
    cv::CascadeClassifier frontal, profile;
    /* Scratch, kept between frames. */
    cv::Mat equalized, mirrored;
    std::vector<cv::Rect> found;
};

namespace
{

/* Each scale is 1.2 times the last: half the scales of OpenCV's 1.1, so
 * about half the time, at little cost in faces found (a face missed on
 * one frame is held from the last, and the boxes are enlarged). */
const double SCALE_STEP = 1.2;
/* Neighbouring finds a face needs: OpenCV's own default. */
const int MIN_NEIGHBOURS = 3;

void set_err(char *err, size_t len, const char *what, const char *why)
{
    if (err != nullptr && len > 0)
        std::snprintf(err, len, "face detection: %s: %s", what, why);
}

/* Runs cascade c on img, appending what it finds (mirrored back when the
 * image was flipped) to f->found. */
void run(struct faces *f, cv::CascadeClassifier &c, const cv::Mat &img,
         int min_side, bool flipped)
{
    std::vector<cv::Rect> r;

    c.detectMultiScale(img, r, SCALE_STEP, MIN_NEIGHBOURS, 0,
                       cv::Size(min_side, min_side));
    for (const cv::Rect &b : r)
        f->found.push_back(
            flipped ? cv::Rect(img.cols - b.x - b.width, b.y, b.width, b.height)
                    : b);
}

} // namespace

extern "C" int faces_open(struct faces **out, const char *frontal,
                          const char *profile, char *err, size_t errlen)
{
    struct faces *f = nullptr;

    *out = nullptr;
    try {
        f = new struct faces;
        /* No OpenCL: it would load drivers, which open files (per
         * thread: faces_detect says so again in its own). */
        cv::ocl::setUseOpenCL(false);
        if (!f->frontal.load(frontal != nullptr ? frontal : FACES_FRONTAL)) {
            set_err(err, errlen, "cannot load the frontal cascade",
                    frontal != nullptr ? frontal : FACES_FRONTAL);
            delete f;
            return -1;
        }
        if (!f->profile.load(profile != nullptr ? profile : FACES_PROFILE)) {
            set_err(err, errlen, "cannot load the profile cascade",
                    profile != nullptr ? profile : FACES_PROFILE);
            delete f;
            return -1;
        }
        /* No thread pool: threads started now, before the sandbox's
         * filter, would run outside it (a filter covers only the threads
         * created after it), and this process's cores are the encoder's
         * anyway. Then one detection on a blank image, so that what
         * OpenCV sets up the first time (it reads the CPU count from /sys,
         * loads TBB's allocator, reads /proc/meminfo) happens now, while
         * files may still be opened. */
        cv::setNumThreads(0);
        (void)cv::getNumberOfCPUs();
        cv::Mat warm(64, 64, CV_8UC1, cv::Scalar(128));
        run(f, f->frontal, warm, 24, false);
        f->found.clear();
    } catch (const std::exception &e) {
        set_err(err, errlen, "cannot set up OpenCV", e.what());
        delete f;
        return -1;
    } catch (...) {
        set_err(err, errlen, "cannot set up OpenCV", "unknown error");
        delete f;
        return -1;
    }
    *out = f;
    return 0;
}

extern "C" void faces_close(struct faces **f)
{
    if (f == nullptr)
        return;
    delete *f;
    *f = nullptr;
}

extern "C" int faces_detect(struct faces *f, const uint8_t *grey, int w, int h,
                            ptrdiff_t stride, int min_side, unsigned which,
                            struct faces_box *boxes, int max)
{
    if (f == nullptr || grey == nullptr || w <= 0 || h <= 0 || stride < w ||
        min_side < 1 || max < 0)
        return -1;
    try {
        /* OpenCV's OpenCL switch is per thread: off in this one too, or
         * its first use would try to load an OpenCL driver (files). */
        cv::ocl::setUseOpenCL(false);
        /* OpenCV takes the buffer as it is: no copy, and it is not
         * written (equalizeHist writes into f->equalized). */
        const cv::Mat img(h, w, CV_8UC1, const_cast<uint8_t *>(grey),
                          static_cast<size_t>(stride));
        int n;

        f->found.clear();
        /* Evens out lighting, as the cascades were trained on. */
        cv::equalizeHist(img, f->equalized);
        if (which & FACES_RUN_FRONTAL)
            run(f, f->frontal, f->equalized, min_side, false);
        if (which & FACES_RUN_PROFILE)
            run(f, f->profile, f->equalized, min_side, false);
        if (which & FACES_RUN_MIRRORED) {
            cv::flip(f->equalized, f->mirrored, 1);
            run(f, f->profile, f->mirrored, min_side, true);
        }
        n = static_cast<int>(f->found.size());
        for (int i = 0; i < n && i < max; i++)
            boxes[i] = {f->found[static_cast<size_t>(i)].x,
                        f->found[static_cast<size_t>(i)].y,
                        f->found[static_cast<size_t>(i)].width,
                        f->found[static_cast<size_t>(i)].height};
        return n;
    } catch (...) {
        return -1;
    }
}
