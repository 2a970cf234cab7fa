"""The vocabularies more than one stage family uses, at the bottom of the package (it imports
nothing): train and evaluate, the CLI's choices and the workflow's wildcard constraints read
them here, and a test checks the params schema's enums against them."""

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")   # the inputs train/streams.py computes
MC_TERMS = ("global", "synonym", "parts")                     # the multi-positive terms (train/mc.py)
VARIANTS = ("label", "llm", "kb", "gsp")                      # description sources (Table 4; describe/gsp.py)
GROUNDED_VARIANTS = ("kb", "gsp")                             # those that retrieve dictionary entries
BUNDLE = "bundle.json"                                        # a trained stream's self-description (train/bundle.py)
# the mc params a zero-shot run trains with (zeroshot/stages.py), and so depends on (stage_params.py)
ZEROSHOT_MC_KEYS = ("temperature", "weight", "centre_text", "allow_missing_texts", "allow_degenerate_synonyms",
                    "degenerate_cos")
