"""pvigroup.io.file_lock: jobs that want one lock take turns (the GGUF de-quantisation cache)."""

import fcntl
import threading
import time

from pvigroup.io import file_lock


def test_second_holder_waits_for_the_first(tmp_path):
    lock = tmp_path / "cache" / ".model.lock"  # the folder is made
    events: list[str] = []
    held, release, waiting = threading.Event(), threading.Event(), threading.Event()

    def first():
        with file_lock(lock) as locked:
            events.append(f"first holds ({locked})")
            held.set()
            release.wait(30)
            events.append("first releases")

    def second():
        waiting.set()
        with file_lock(lock):  # another open file description: flock makes it wait
            events.append("second holds")

    a = threading.Thread(target=first)
    a.start()
    assert held.wait(30)
    b = threading.Thread(target=second)
    b.start()
    assert waiting.wait(30)
    time.sleep(0.3)  # an unlocked second would have written its line by now
    assert events == ["first holds (True)"]
    release.set()
    a.join(30)
    b.join(30)
    assert events == ["first holds (True)", "first releases", "second holds"]


def test_a_file_system_without_flock_runs_the_block_unlocked(tmp_path, monkeypatch):
    def refuse(fd, op):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", refuse)
    ran = []
    with file_lock(tmp_path / ".x.lock") as locked:
        ran.append(locked)
    assert ran == [False]
