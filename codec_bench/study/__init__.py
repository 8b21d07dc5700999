"""The stages chained for one dataset (``pipeline``), studies over datasets x codecs x models x recipes x seeds
and their engines (``benchmark``), the demo (``demo``), predictions on new audio (``predict``) and tiny
random-weight models of every class for smoke tests (``tiny_models``)."""
