"""Root pytest configuration (applies to tests/ and to the doctests in skcf/).

Torch's thread count is left as users get it: the engine scopes its own
threads (``skcf.set_config(n_threads="auto")``), so the suite runs the policy
users run instead of hiding a slowdown behind a pinned thread count.
"""
