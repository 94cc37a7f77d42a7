"""Pieces every arm may use: ranking and its metrics, likelihood scoring, the label loss, the
evaluation context. Nothing here imports an arm, so every arm can import them."""
