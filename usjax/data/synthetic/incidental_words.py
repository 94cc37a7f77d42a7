"""The words the incidental-findings catalogue is built from (incidental.py): "<modifier> <root><ending>
near the <site>". Apart from the catalogue so that the config can bound its size without
importing the generator that reads the config."""

ROOTS = ("angio", "adeno", "chondro", "fibro", "lipo", "myxo", "osteo", "neuro", "spleno",
         "thyro", "lympho", "papillo", "hepato", "nephro", "cholangio", "dacryo", "sialo",
         "tendo", "synovio", "mesothelio", "ganglio", "haemato", "phlebo", "leiomyo")
ENDINGS = ("ectasia", "lithiasis", "sclerosis", "calcinosis", "plasia", "cele", "trophy",
           "stenosis", "megaly", "itis", "genesis", "ptosis", "rrhaphy", "spasm", "dystrophy",
           "philia", "malacia", "fibrosis", "blastosis", "edema")
MODIFIERS = ("minute", "faint", "tiny", "subtle", "stable", "chronic", "incipient", "residual",
             "scattered", "solitary", "bilateral", "punctiform")
SITES = ("hilum", "capsule", "isthmus", "apex", "fundus", "pole", "recess", "sulcus", "notch",
         "angle", "rim", "groove", "crest", "fossa", "margin of the field", "skin line")
MAX_CATALOGUE = len(ROOTS) * len(ENDINGS) * len(MODIFIERS) * len(SITES)
