"""The ground every stage stands on, knowing nothing of audio or models: errors users see, atomic files and
done-markers (``io``, ``finished``), several processes and file locks (``parallel``), the console (``ui``) and
loading from the Hugging Face hub or a folder (``hub``)."""
