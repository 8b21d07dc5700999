"""Held-out numbers: label scoring and generation (``scoring``), multi-label decision rules fitted on validation
(``decisions``), metrics as pure functions (``metrics``), result records and prediction files (``records``), and
the reference rows a reader compares against: the log-mel logistic regression (``baseline``), linear/kNN probes and
zero-shot scoring (``probes``), question answering's blind rows (``blind``). The statistics of a report: bootstrap
intervals (``statistics``), paired tests and Holm's correction (``paired_tests``), and the calibration of label
scoring (``calibration``). How close a codec's decoded audio is to its input (``fidelity``: SI-SDR, STFT and mel
distances, STOI, PESQ, with bootstrap intervals)."""
