"""meta_alignment data (catalog meta_alignment.md): task-family definitions (tasks.py), real-data loaders
(yummly.py, image_audio.py, wilderness.py; pretrained extractors in extractors.py) and the tiny stand-ins."""
