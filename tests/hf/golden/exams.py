"""The exam prompts the goldens score: importable without torch (the project's tests read them)."""
VIEW_SIDE = 56  # pixels: 4 x 4 patches, 2 x 2 merged tokens per view
QUESTIONS = ("Write the ultrasound report of this exam.", "What is the echogenicity of the lesion?")
# (views as indices into the base images, question, answer): 3, 2, 1 and 3 views
ROWS = (((0, 1, 2), 0, "Liver: normal size and echotexture. No focal lesion."),
        ((1, 3), 1, "Hypoechoic."),
        ((2,), 0, "Thyroid gland: a well-defined hypoechoic nodule of 12 mm in the right lobe."),
        ((3, 0, 1), 1, "Anechoic, with posterior enhancement."))
