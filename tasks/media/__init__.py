"""Media work shared by the job handlers: probing, hashing, ffmpeg argv, labels, names.

Pure where it can be (argv builders, progress parsing, labels, names, moment picking, tag
rules); the few adapters that touch files, PyAV, ffmpeg or the database are named for it
(``probe``, ``hashing``, ``frames``, ``ffmpeg``, ``catalog``, ``fetcher``, ``publishing``).
"""
