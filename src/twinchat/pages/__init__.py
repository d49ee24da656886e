"""The page kit: the HTML reports of `prepare` and `eval`, and the loss curve of `train`.

- `render`: templates and style sheets from `templates/` (package data), filled with escaped
  values, so that a page is one self-contained file that opens offline.
- `charts`: the SVG charts: vertical and horizontal bars, lines, and the one loss curve.

A foundation module: it imports nothing of twinchat.
"""
