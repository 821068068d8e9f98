"""Worker threads that never keep the process alive, and calls that end at a deadline.

`concurrent.futures.ThreadPoolExecutor` joins its (non-daemon) workers when the interpreter exits,
so a send stuck on a trickling receiver would keep the CLI alive long after the handler returned.
These workers are daemon threads: whatever is still running when the handler returns is dropped.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class DeadlineExceeded(Exception):  # noqa: N818 - says what happened
    """A call did not finish within the seconds it was given; it goes on in a daemon thread."""


class DaemonExecutor:
    """The part of ThreadPoolExecutor this project uses (submit, shutdown, with), on daemon threads."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "worker") -> None:
        """Start no thread yet; up to `max_workers` are started as work is submitted."""
        self._max = max(1, max_workers)
        self._prefix = thread_name_prefix
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue `fn(*args)`; its Future holds the result or the exception."""
        if self._closed:
            raise RuntimeError("cannot submit after shutdown")
        future: Future[T] = Future()
        # Run in a copy of the caller's context: log lines keep the request id, scrubbing its secrets.
        self._work.put((future, contextvars.copy_context().run, (fn, *args)))
        if len(self._threads) < self._max:
            thread = threading.Thread(
                target=self._run, name=f"{self._prefix}_{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the future
                future.set_exception(exc)

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop taking work; optionally cancel what has not started and wait for the rest."""
        self._closed = True
        if cancel_futures:
            while True:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def __enter__(self) -> DaemonExecutor:
        """Use as a context manager, like ThreadPoolExecutor."""
        return self

    def __exit__(self, *_exc: object) -> None:
        """Wait for the submitted work, like ThreadPoolExecutor."""
        self.shutdown(wait=True)


# Idle workers of call_within, parked between calls: a warm invocation's bounded calls (two ELB reads,
# five store calls) would otherwise each start a thread (≈0.1-0.3 ms apiece on a busy machine).
MAX_IDLE_WORKERS = 8
_idle: list[_Worker] = []
_idle_lock = threading.Lock()


class _Worker:
    """A daemon thread that runs one job at a time and parks itself in `_idle` after each."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def run(self, job: Callable[[], None]) -> None:
        """Hand `job` to this worker."""
        self._jobs.put(job)

    def _loop(self) -> None:
        while True:
            self._jobs.get()()
            with _idle_lock:
                if len(_idle) >= MAX_IDLE_WORKERS:
                    return
                _idle.append(self)


def _worker(name: str) -> _Worker:
    """An idle worker, or a new one (a worker still busy with a timed-out call is never reused)."""
    with _idle_lock:
        if _idle:
            return _idle.pop()
    return _Worker(name)


# Inside a start()ed worker: when (time.monotonic()) its waiter stops waiting for it.
_waiter_gives_up: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "waiter_gives_up", default=None
)
# A call_within whose bound ends at most this long before the waiter's runs in the worker itself.
HANDBACK_SECONDS = 0.05


class Pending(Generic[T]):
    """A call running in a daemon worker: `result(seconds)` waits for it at most that long."""

    def __init__(self, fn: Callable[[], T], name: str, until: float | None = None) -> None:
        """Hand `fn` to an idle (or new) worker, in a copy of the caller's context.

        `until` (time.monotonic()): when the caller stops waiting for it, if it says so up front.
        """
        self._done = threading.Event()
        self._box: dict[str, Any] = {}
        self._until = until

        def run() -> None:
            if until is not None:
                _waiter_gives_up.set(until)
            try:
                self._box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._box["error"] = exc
            finally:
                self._done.set()

        context = contextvars.copy_context()  # the call's log lines keep the invocation's request id
        _worker(name).run(lambda: context.run(run))

    def result(self, seconds: float) -> T:
        """`fn()`'s value or exception; DeadlineExceeded if it is not done within `seconds`."""
        if not self._done.wait(max(0.0, seconds)):
            raise DeadlineExceeded(f"no answer within {seconds:.1f} s")
        if "error" in self._box:
            raise self._box["error"]
        value: T = self._box["value"]
        return value

    def wait(self) -> T:
        """`result()` until the time given to `start`."""
        return self.result((self._until or time.monotonic()) - time.monotonic())


def start(fn: Callable[[], T], *, within: float, name: str = "pending-call") -> Pending[T]:
    """Run `fn()` in a daemon worker while the caller goes on; `wait()` collects it within `within` s.

    The caller's wait bounds `fn` as a whole, so a `call_within` inside `fn` whose bound ends no
    sooner runs in this worker instead of handing off to another (a hand-off costs ≈0.1 ms).
    """
    return Pending(fn, name, until=time.monotonic() + max(0.0, within))


def call_within(seconds: float, fn: Callable[[], T], name: str = "bounded-call") -> T:
    """`fn()` if it finishes within `seconds`; else DeadlineExceeded, and `fn` goes on in a daemon thread.

    The only way to bound a blocking call whose own timeouts apply per read (an HTTP body that
    trickles in, a socket that accepts and never answers) by the whole call's duration. In a
    `start`ed worker whose waiter gives up first (or within HANDBACK_SECONDS after), `fn` runs right
    there: that waiter is already the bound.
    """
    gives_up = _waiter_gives_up.get()
    if gives_up is not None and gives_up <= time.monotonic() + seconds + HANDBACK_SECONDS:
        return fn()
    return Pending(fn, name).result(seconds)
