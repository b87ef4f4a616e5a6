"""Representative inference workloads, one module per modality, found through the `gpucost.workloads` entry-point group."""
