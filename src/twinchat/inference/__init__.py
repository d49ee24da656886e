"""Suggest: load a trained run and draw replies and completions from it.

`suggester.Suggester` is the API every app uses; `backends/` hold the engines (transformers,
CTranslate2, onnxruntime-genai) behind one contract; `export` writes a run for the fast ones.
"""
