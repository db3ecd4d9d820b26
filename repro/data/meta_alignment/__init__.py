"""meta_alignment (CroMA, arXiv 2012.02813; catalog meta_alignment.md) data: the task-family definitions (tasks.py),
the real-data loaders (yummly.py, image_audio.py, wilderness.py; audio features audio.py; pretrained extractors
extractors.py) and the tiny stand-ins (standins.py), which return repro.data.episodes.CrossModalData."""
