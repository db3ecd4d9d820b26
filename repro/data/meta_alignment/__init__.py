"""meta_alignment (CroMA, arXiv 2012.02813) data: the tiny stand-ins (standins.py) and the real-data loaders
(Yummly-28K, CIFAR-10/100 + ESC-50, CMU Wilderness), each returning repro.data.episodes.CrossModalData."""
