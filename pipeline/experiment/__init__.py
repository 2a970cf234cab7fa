"""Experiments: repeated, paired training runs that measure an effect with its spread
(not DAG stages; each writes results/<dataset>/experiments/<name>.{json,md})."""
