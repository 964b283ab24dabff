"""PIL's reading of a PNG against the pixels it should hold (tests/test_png.c).

usage: /usr/bin/python3 png_read.py FILE.png RAW W H CHANNELS
RAW holds the rows top to bottom, channels interleaved (8 bits each).
Prints "ok", or what differs. Uses Debian's python3-pil (PIL.Image)."""
import sys

from PIL import Image

path, raw, w, h, c = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
want_mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c]
im = Image.open(path)
im.load()
if im.size != (w, h) or im.mode != want_mode:
    print("PIL reads %s %s, expected %s %s" % (im.mode, im.size, want_mode, (w, h)))
    sys.exit(0)
got = im.tobytes()
want = open(raw, "rb").read()
if got != want:
    bad = sum(1 for a, b in zip(got, want) if a != b)
    print("%d of %d bytes differ" % (bad, len(want)))
else:
    print("ok")
