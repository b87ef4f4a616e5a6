"""Reports: tables and plots of runs, as one self-contained HTML file or Markdown with PNGs.

`sections` builds a `Document` (sections of tables, figures and notes) from run folders; `html`
and `markdown` render it. Nothing here imports torch.
"""
