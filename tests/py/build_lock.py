"""Data sets that tests build once and keep in build/ (reg_data.py,
bspline_data.py): safe when several test suites build the same one at once.

make test runs suites side by side, and each asks for the same data set. A
builder that wrote straight to the final names let another suite see a file
that exists but is still being written (an EOFError on the .nii.gz, and the
test that needed it skipped). So a builder holds an exclusive lock on its
folder while it checks and builds (the others wait, then find it built), and
every file is written under a temporary name and renamed into place, so a
file that exists is whole even if a builder is killed part way.
"""
import fcntl
import os


def hold(folder):
    """Block until this process alone builds in `folder`; held until exit."""
    os.makedirs(folder, exist_ok=True)
    f = open(os.path.join(folder, ".build.lock"), "a")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f  # the lock lives as long as the file object


def write_whole(path, write):
    """write(tmp) to a temporary name beside `path` (same extension, so
    nibabel picks the same format), then rename it to `path`."""
    d, b = os.path.split(path)
    tmp = os.path.join(d, ".part%d-%s" % (os.getpid(), b))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    def put(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    write_whole(path, put)
