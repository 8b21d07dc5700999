"""The ground every stage stands on, knowing nothing of audio or models: the errors users see (``errors``), atomic
files and JSON helpers (``io``), done-markers (``finished``), several processes and file locks (``parallel``), the
console (``ui``) and dataclass fields as settings (``settings``)."""
