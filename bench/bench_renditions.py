"""Time and peak memory of making the three renditions (1600/800/320 px WebP) of a 12-megapixel JPEG.

    .venv/bin/python bench/bench_renditions.py [--runs 5] [--width 4000 --height 3000]

Compares Pillow decoding the whole JPEG, Pillow's draft mode (libjpeg scales while decoding: what the worker
uses), the same with AVIF renditions added, and pyvips when it is installed (pip install "pyvips[binary]").
Each method runs in a fresh child process so its peak resident memory is its own: the figure is the peak
RSS above the child's RSS just before the first run (the JPEG's bytes already loaded). Reported, never asserted.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1600, 800, 320)
METHODS = {
    "pillow-full": "Pillow, full decode",
    "pillow-draft": "Pillow, draft mode (worker)",
    "pillow-draft-avif": "Pillow, draft + AVIF too",
    "pyvips": "pyvips, decode once + thumbnail_image",
    "pyvips-shrink": "pyvips, shrink-on-load to 1600, then resize",
}


def make_photo(path: Path, width: int, height: int) -> None:
    """A photo-like JPEG: smooth gradients with fine noise, so it compresses like a real picture."""
    from PIL import Image

    base = Image.merge("RGB", [Image.linear_gradient("L").resize((width, height)),
                               Image.radial_gradient("L").resize((width, height)),
                               Image.effect_noise((width, height), 40)])
    base.save(path, "JPEG", quality=90)


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # Linux: reset VmHWM to the current RSS


def pillow(data: bytes, draft: bool, avif: bool) -> int:
    from covet.media.processing import make_renditions

    return sum(len(r.data) for r in make_renditions(data, WIDTHS, avif=avif, draft=draft).renditions)


def vips(data: bytes, shrink_on_load: bool) -> int:
    import pyvips

    if shrink_on_load:  # libjpeg scales while decoding, like Pillow's draft; the others resize the 1600
        image = pyvips.Image.thumbnail_buffer(data, WIDTHS[0]).copy_memory()
    else:  # decode once at full size; each rendition is a resize of it
        image = pyvips.Image.new_from_buffer(data, "", access="sequential").autorot().copy_memory()
    return sum(len(image.thumbnail_image(width).webpsave_buffer(Q=82, keep="none")) for width in WIDTHS)


def child(method: str, path: str, runs: int) -> None:
    """Run one method `runs` times in this process; print its timings and peak memory as JSON."""
    sys.path.insert(0, str(ROOT))
    data = Path(path).read_bytes()
    if method.startswith("pyvips"):
        import pyvips

        pyvips.cache_set_max(0)
        work = lambda: vips(data, shrink_on_load=method == "pyvips-shrink")  # noqa: E731
    else:
        work = lambda: pillow(data, draft=method != "pillow-full", avif=method.endswith("avif"))  # noqa: E731
    import covet.media.processing  # noqa: F401 - imports before the baseline

    baseline = rss_kib("VmRSS")
    reset_peak()
    timings, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        size = work()
        timings.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"ms": timings, "peak_mib": (rss_kib("VmHWM") - baseline) / 1024, "bytes": size}))


def run_method(method: str, path: Path, runs: int) -> dict | None:
    if method.startswith("pyvips"):
        try:
            import pyvips  # noqa: F401
        except (ImportError, OSError):
            return None
    result = subprocess.run([sys.executable, __file__, "--child", method, str(path), "--runs", str(runs)],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.runs)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        make_photo(path, args.width, args.height)
        print(f"{args.width}×{args.height} JPEG ({args.width * args.height / 1e6:.0f} MP, "
              f"{path.stat().st_size / 1e6:.1f} MB) → WebP {'/'.join(map(str, WIDTHS))} px; "
              f"median of {args.runs} runs per method, each method in its own process\n")
        print(f"{'method':44} {'median ms':>10} {'min ms':>8} {'peak MiB':>9} {'output KB':>10}")
        for method, label in METHODS.items():
            result = run_method(method, path, args.runs)
            if result is None:
                print(f"{label:44} not installed (pip install 'pyvips[binary]' to compare)")
                continue
            print(f"{label:44} {statistics.median(result['ms']):10.0f} {min(result['ms']):8.0f} "
                  f"{result['peak_mib']:9.0f} {result['bytes'] / 1000:10.0f}")


if __name__ == "__main__":
    main()
