"""Machine-learning plumbing shared by the domains: the model registry and common frame helpers."""
