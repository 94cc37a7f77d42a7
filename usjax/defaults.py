"""Every knob of one usjax run, with its default: the reference the config checks hold runs to.

Experiment files start from it through experiments/base.py, which also reads a "key=value" string
after the file name (`--config=experiments/base.py:preset=s4,exams=500`).
"""
import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.arm = "generative"  # usjax/arms/<arm>/: generative (the VLM, dense or MoE) | contrastive | heads

    # --- corpus and input pipeline (usjax.data) ---
    c.data = ml_collections.ConfigDict()
    c.data.name = "us_exams/1k"  # TFDS name/config; built on first use if missing
    c.data.data_dir = "~/tensorflow_datasets"
    c.data.batch_size = 8  # global batch (all processes); a multiple of the process count
    c.data.num_train_exams = ml_collections.config_dict.placeholder(int)  # D; None = whole split
    c.data.subset_seed = 0  # the fixed permutation nested subsets are prefixes of
    c.data.num_epochs = ml_collections.config_dict.placeholder(int)  # None = endless stream
    c.data.alignment = "exam"  # "exam" | "image" | "shuffled:P" (usjax.data.alignment)
    c.data.tasks = ml_collections.ConfigDict(dict(report=0.6, vqa=0.2, classify=0.2))  # weights
    # Task warm-up: the first task_warmup_fraction of train.steps draw their tasks from
    # task_warmup_tasks instead (0 = off). Measured on 1k 1.1.0 (README, "Does the default run
    # learn?"): at learning rate 1e-3 the mixture from the start reads the views (blanking them
    # raises the loss by .07); classification for the first half, then a restarted schedule, read
    # them worse (organ F1 .31 at 1e-3, .22 at 3e-3, against .73).
    c.data.task_warmup_fraction = 0.0
    c.data.task_warmup_tasks = ml_collections.ConfigDict(dict(report=0.0, vqa=0.0, classify=1.0))
    # True: report prompts name the exam's organ (the study that was ordered, as the organ baseline
    # knows it). Off: the report is written from the views alone (synthetic views show the organ's
    # body marker). Measured on 1k: with the organ in the prompt the report phase stopped reading
    # lesions from the views (the text cue wins), so it stays off unless the views lack the organ.
    # Again at learning rate 1e-3: organ F1 .99, but blanking the views raised the loss by .008 only.
    c.data.report_prompt_organ = False
    c.data.vocab_size = 2000  # SentencePiece pieces (fewer if the corpus is too small)
    c.data.tokenizer_train_exams = 4000  # first N train exams' text train the tokenizer
    c.data.text_len = 192  # [prompt][target][end][pad] tokens per row; 1k: 2 of 766 train reports cut
    c.data.image_size = 112  # model input side; a multiple of 28
    c.data.max_images = 4  # views per exam; more are sampled (order kept), fewer masked
    c.data.augment = False  # random crop + gain/contrast jitter, seeded per element
    c.data.augment_min_crop = 0.85  # a crop keeps >= this fraction of each side; 1.0: no crop (the
    #                                 views' corner annotations, e.g. the body marker, stay whole)
    c.data.with_masks = False  # batches also carry lesion masks [B, V, H, W] (heads arm)
    c.data.skip_bad_records = False  # True: empty the row of an undecodable record and count it
    c.data.workers = 0  # Grain worker processes (mp_prefetch); 0 = in the training process
    c.data.worker_buffer = 2  # batches each worker prepares ahead
    c.data.read_threads = 2  # threads computing batches in each reading process

    # --- model (usjax.models) ---
    c.model = ml_collections.ConfigDict()
    c.model.preset = "s4"  # usjax/models/presets.py: s0..s10, peer, peer_large, qwen2vl_2b, qwen2vl_7b
    # A local Hugging Face Qwen2-VL directory (config.json, *.safetensors, tokenizer.json,
    # preprocessor_config.json): its config.json sets the network (preset and shape keys are then
    # not used), its weights start train.mode=lora|finetune, its tokenizer and image statistics
    # replace the corpus' SentencePiece (usjax/hf/experiment.py). "" = the preset, from scratch.
    c.model.init_from_hf = ""
    # Overrides of the preset's shape (None keeps the preset's value). vocab_size must equal the
    # tokenizer's vocabulary.
    for key, kind in (("vocab_size", int), ("hidden", int), ("layers", int), ("heads", int),
                      ("kv_heads", int), ("intermediate", int), ("tie_embeddings", bool),
                      ("vision_depth", int), ("vision_width", int), ("vision_heads", int)):
        c.model[key] = ml_collections.config_dict.placeholder(kind)
    # The embedding and unembedding follow the tokenizer's size (a reference: overriding
    # data.vocab_size changes both); a preset's own vocabulary only matters for imported weights.
    c.model.vocab_size = c.data.get_ref("vocab_size")
    c.model.image_attention = "causal"  # or "bidirectional" inside the image prefix
    c.model.dtype = "float32"  # compute dtype ("bfloat16" on TPU); parameters stay float32
    c.model.remat = "none"  # "none" | "full" | a jax.checkpoint_policies name, e.g. "dots_saveable"
    c.model.scan_layers = True  # scan the layer stacks (compile time independent of depth)
    c.model.image_size = 112  # image side assumed by FLOP accounting; the model accepts any multiple of 28
    c.model.lora = ml_collections.ConfigDict()
    c.model.lora.rank = 0  # > 0: LoRA adapters, base weights frozen (only adapters are trained)
    c.model.lora.alpha = 32.0  # adapter output scaled by alpha / rank
    c.model.lora.dropout = 0.0
    c.model.lora.targets = r"decoder/layers/(self_attn|mlp)/(q|k|v|o|gate|up|down)_proj"  # regex on paths
    # Mixture-of-experts decoder layers (EchoVLM): dense MLP + routed experts + gated shared expert
    c.model.moe = ml_collections.ConfigDict()
    c.model.moe.experts = 0  # 0 = dense; EchoVLM: 4 (usjax/models/moe.py)
    c.model.moe.top_k = 2  # routed experts per token
    c.model.moe.expert_hidden = 0  # routed expert SwiGLU width; 0: intermediate // 4
    c.model.moe.shared_hidden = 0  # shared expert SwiGLU width; 0: intermediate
    c.model.moe.capacity_factor = 1.25  # slots per expert and exam = ceil(cf * tokens * top_k / experts);
    #                                     assignments beyond them are dropped (and counted)
    c.model.moe.aux_loss_coef = 1e-3  # loss += coef * router load-balance loss (EchoVLM: 0.001)
    c.model.moe.region_routing = False  # router also sees a learned embedding of the body system

    # --- device mesh and sharding rules (usjax.models.sharding) ---
    c.mesh = ml_collections.ConfigDict()
    c.mesh.data = -1  # -1: all devices not used by the other axes
    c.mesh.fsdp = 1
    c.mesh.tensor = 1
    c.mesh.expert = 1  # expert parallelism (MoE): experts split over it, tokens data-parallel over it
    # logical axis name -> mesh axes (None = replicated); names not listed are replicated. A rule
    # applies only while its mesh axes are free in that array; the first free rule of a name wins.
    c.mesh.rules = (
        ("expert", "expert"),  # before "batch": MoE slots [expert, batch, ...] keep experts on it
        ("batch", ("data", "fsdp", "expert")),  # GShard: tokens data-parallel over the expert axis too
        ("batch", ("data", "fsdp")),  # the batch of [expert, batch, ...] MoE tensors
        ("embed", "fsdp"), ("vit_embed", "fsdp"), ("merger_in", "fsdp"),
        ("q_heads", "tensor"), ("kv_heads", "tensor"), ("mlp", "tensor"), ("vocab", "tensor"),
        ("vit_qkv", "tensor"), ("vit_heads", "tensor"), ("vit_mlp", "tensor"), ("merger_hidden", "tensor"),
        ("act_heads", "tensor"), ("act_mlp", "tensor"), ("act_vocab", "tensor"),
        ("layers", None), ("length", None), ("act_embed", None), ("norm", None), ("patch", None),
    )

    # --- optimisation and the loop (usjax.train) ---
    c.train = ml_collections.ConfigDict()
    c.train.mode = "scratch"  # scratch | finetune (all params) | lora (adapters only)
    c.train.init_from = ""  # finetune/lora: workdir of an earlier run whose params start this one
    c.train.steps = 1200  # x data.batch_size 8 = 12.5 passes over the 1k corpus' 766 train exams
    c.train.micro_batches = 1  # gradient accumulation: data.batch_size (global) split in this many
    c.train.loss_weighting = "token"  # "token": mean over target tokens | "example": every row
    #                                   weighs the same (a short answer as much as a long report)
    c.train.learning_rate = 1e-3  # peak, after linear warmup; cosine decay to the end (1k, s4:
    #                               3e-3 learnt the wording but ignored the views)
    c.train.warmup_fraction = 0.05
    c.train.end_lr_fraction = 0.1  # final learning rate = this x peak
    c.train.restart_schedule_after_task_warmup = True  # with a task warm-up: a second warmup +
    #                                                    cosine cycle for the task mixture after it
    # > 0: a linear head on the vision tower's pooled features learns the exam's labels beside the
    # language model (usjax/arms/shared/label_loss.py), weighted this much against the token loss. 0: the
    # tower learns through the language model only; from scratch it then reads no lesions (1k, s4:
    # lesion presence .57 at 0, .79 at 1; BLEU-4 .20 -> .30, diagnosis F1 .35 -> .53).
    c.train.label_loss_weight = 1.0
    c.train.weight_decay = 0.01
    c.train.b1 = 0.9
    c.train.b2 = 0.98
    c.train.grad_clip_norm = 1.0
    c.train.on_nonfinite = "stop"  # stop | skip (skip the update and count it)
    c.train.log_every_steps = 25
    c.train.log_mfu = True  # MFU against a matmul rate measured at the first log (CPU), or the TPU table
    c.train.profile_steps = 0  # > 0: a profiler trace of this many steps, written to workdir/profile
    c.train.profile_first_step = 10
    # XLA's persistent compilation cache ("" = off): runs with the same model and batch shapes
    # (e.g. a grid's data sizes) compile their steps once per machine
    c.train.compilation_cache_dir = "~/.cache/usjax/xla"

    # --- evaluation (usjax.train.evaluate) ---
    c.eval = ml_collections.ConfigDict()
    c.eval.every_steps = 200  # validation loss at these intervals and at the end
    c.eval.loss_batches = 16  # validation batches (data.batch_size exams each) per validation loss;
    #                          16 x 8 covers 1k's 107 validation exams
    c.eval.blank_image_loss = True  # at the end also val/loss_blank_images: the loss with every view
    #                                 black (no gap to val/loss: the model does not read the views)
    c.eval.generate_exams = 128  # at the end: first N validation exams get a generated report and
    #                             greedy answers to their VQA questions, scored against references
    #                             (and so does the organ baseline); 0 = loss only
    c.eval.max_new_tokens = 200  # longest generated report (tokens)
    c.eval.max_answer_tokens = 12  # longest generated VQA answer (tokens)
    c.eval.arm_exams = 64  # validation exams for the arms' shared table (retrieval R@k and
    #                        per-dimension classification, usjax/arms/); 0 = skip

    # --- contrastive arm (Ultrasound-CLIP; usjax/arms/contrastive/) ---
    c.contrastive = ml_collections.ConfigDict()
    c.contrastive.embed_dim = 128  # shared image/text embedding width (after projection, L2-normalised)
    c.contrastive.text_layers = 2  # bidirectional decoder blocks of the text tower (preset's width)
    c.contrastive.graph_hidden = 128  # attribute-graph network width (Ultrasound-CLIP: 128)
    c.contrastive.gate_init = 0.05  # tanh gate of the graph's cross-attention at init (paper: 0.05)
    c.contrastive.temperature = 0.07  # initial learned CLIP temperature
    c.contrastive.min_temperature = 0.01  # temperature clip (CLIP caps the logit scale at 100)
    c.contrastive.semantic_weight = 1.0  # weight of the soft-label semantic loss; 0 = plain CLIP loss
    c.contrastive.use_graph = True  # False: no attribute graph and no fusion (the ablation)

    # --- adapters + task heads arm (NextGen-UIA; usjax/arms/heads/) ---
    c.heads = ml_collections.ConfigDict()
    c.heads.adapter_width = 64  # bottleneck width of each adapter (NextGen-UIA: 64)
    c.heads.adapter_sites = "both"  # after each vision block's "attention" | "mlp" | "both"; "none": heads only
    c.heads.segment = True  # lesion segmentation head + DiceCE loss (the arm needs data.with_masks=True)
    c.heads.seg_weight = 1.0  # loss = classification CE + seg_weight * DiceCE
    c.heads.dice_smooth = 1.0  # s in the soft Dice (2*sum(pg)+s)/(sum(p)+sum(g)+s); > 0

    # --- checkpoints (usjax.train.checkpoints) ---
    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.every_steps = 200  # and always at the end and on preemption
    c.checkpoint.max_to_keep = 3
    c.checkpoint.async_save = True
    # A replicated array is written by all its replicas together (Orbax's replica-parallel save)
    # only when each replica's slice has at least this many MiB: slicing costs one small compiled
    # op per slice shape (13-19 s for a tiny model's first save on 8 CPU devices), which only a
    # large array repays.
    c.checkpoint.replica_parallel_min_slice_mib = 16.0
    return c
