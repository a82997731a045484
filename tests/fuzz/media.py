"""Media fuzzing: mutated phone-like clips through `chorus transcode` of
the sanitizer build. Every input must either transcode (exit 0, facts on
stdout) or be refused (exit 1, {"error": ...}); a crash, a hang past the
timeout or a sanitizer report is a finding, kept in tests/fuzz/findings/.

usage: python3 tests/fuzz/media.py COUNT

The inputs are made in order from one seed (FUZZ_SEED reproduces a run)
and go through as many transcodes at once as there are cores
(CHORUS_FUZZ_JOBS to change it).
"""
import concurrent.futures
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build-asan")
CHORUS = os.path.join(BUILD, "chorus")
FINDINGS = os.path.join(ROOT, "tests", "fuzz", "findings")
REPORT = re.compile(rb"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")
TIMEOUT = 120

SEEDS = {
    "h264.mp4": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                 "-f", "lavfi", "-i", "sine=frequency=440",
                 "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                 "-c:a", "aac", "-metadata", "location=+53.9+027.5/"],
    "vp8.webm": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                 "-f", "lavfi", "-i", "sine=frequency=440",
                 "-t", "2", "-c:v", "libvpx", "-b:v", "300k", "-c:a",
                 "libopus"],
    "hevc.mov": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                 "-t", "2", "-c:v", "libx265", "-preset", "ultrafast",
                 "-tag:v", "hvc1", "-x265-params", "log-level=none"],
    "mjpeg.avi": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10",
                  "-t", "2", "-c:v", "mjpeg"],
    "mpeg2.ts": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                 "-f", "lavfi", "-i", "sine=frequency=440",
                 "-t", "2", "-c:v", "mpeg2video", "-c:a", "mp2"],
}


def make_seeds(work):
    seeds = []
    for name, args in SEEDS.items():
        out = os.path.join(work, name)
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                        *args, out], check=True)
        with open(out, "rb") as f:
            seeds.append((name, f.read()))
    return seeds


def mutate(data, rng):
    data = bytearray(data)
    how = rng.choice(["flip", "flip", "truncate", "duplicate", "smash",
                      "zero"])
    if how == "flip":
        for _ in range(rng.randint(1, 64)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        data = data[:rng.randrange(1, len(data))]
    elif how == "duplicate":
        a = rng.randrange(len(data))
        b = min(len(data), a + rng.randint(1, 65536))
        at = rng.randrange(len(data))
        data[at:at] = data[a:b]
    elif how == "smash":
        at = rng.randrange(len(data))
        n = rng.randint(1, 256)
        data[at:at + n] = bytes(rng.randrange(256) for _ in range(n))
    else:  # header fields to zero or 0xff
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(min(len(data), 4096))
            data[i] = rng.choice([0, 0xFF])
    return how, bytes(data)


def run_one(work, env, n, name, how, mutated):
    """Transcodes input n in a directory of its own. Returns (n, name, how,
    input path, "transcoded", "refused" or why it is a finding, stderr)."""
    inp = os.path.join(work, f"input-{n}")
    out = os.path.join(work, f"out-{n}")
    with open(inp, "wb") as f:
        f.write(mutated)
    stderr = b""
    try:
        r = subprocess.run([CHORUS, "transcode", inp, out],
                           capture_output=True, env=env, timeout=TIMEOUT)
        stderr = r.stderr
        if REPORT.search(r.stderr):
            why = "sanitizer report"
        elif r.returncode not in (0, 1):
            why = f"exit {r.returncode}"
        else:
            facts = json.loads(r.stdout)
            if r.returncode == 1 and not facts.get("error"):
                why = "refused without a reason"
            else:
                why = "refused" if r.returncode else "transcoded"
    except subprocess.TimeoutExpired:
        why = f"hang past {TIMEOUT} s"
    except ValueError:
        why = "output is not JSON"
    shutil.rmtree(out, ignore_errors=True)
    return n, name, how, inp, why, stderr


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    if not os.path.exists(CHORUS):
        subprocess.run(["cmake", "-S", ROOT, "-B", BUILD,
                        "-DCMAKE_BUILD_TYPE=Debug", "-DCHORUS_SANITIZE=ON"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", BUILD, "-j2"], check=True,
                       stdout=subprocess.DEVNULL)
    seed = int(os.environ.get("FUZZ_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="chorus-fuzz-media-")
    os.makedirs(FINDINGS, exist_ok=True)
    seeds = make_seeds(work)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:halt_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    outcomes = {"transcoded": 0, "refused": 0}
    findings = 0
    jobs = int(os.environ.get("CHORUS_FUZZ_JOBS", os.cpu_count() or 1))
    try:
        inputs = []
        for n in range(count):
            name, data = rng.choice(seeds)
            how, mutated = mutate(data, rng)
            inputs.append((n, name, how, mutated))
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for n, name, how, inp, why, stderr in pool.map(
                    lambda i: run_one(work, env, *i), inputs):
                if why in ("transcoded", "refused"):
                    outcomes[why] += 1
                    os.remove(inp)
                    continue
                findings += 1
                keep = os.path.join(FINDINGS, f"media-{seed}-{n}-{name}")
                shutil.copy(inp, keep)
                print(f"FINDING {n}: {why} ({how} of {name}); kept {keep}")
                if why == "sanitizer report":
                    print(stderr.decode(errors="replace")[-3000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"media fuzz (seed {seed}): {count} inputs, "
          f"{outcomes['transcoded']} transcoded, {outcomes['refused']} "
          f"refused with a reason, {findings} findings")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
