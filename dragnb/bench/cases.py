"""The scene world's edit cases, kept under their former name: they live in ``dragnb.teaching.cases``,
beside the scene world, which the synthetic bench and the drag widget both use."""
from ..teaching.cases import (SEED, Case, Seen, cut_and_paste, edit_case, length, locate, make_cases,
                              picture_distance, score, watch)

__all__ = ["SEED", "Case", "Seen", "cut_and_paste", "edit_case", "length", "locate", "make_cases",
           "picture_distance", "score", "watch"]
