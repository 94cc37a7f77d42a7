"""experiments/qwen2vl_7b_tpu.py: the 7B LoRA layout study preflight compiles (docs/tpu_layouts.md).
Compiling the 7B step takes minutes per run, so this pins the grid and the default, not the figures."""
from launch import sweep as sweep_lib
from launch import tpu_types
from usjax.models import presets
from usjax.models import sharding

SWEEP = "experiments/qwen2vl_7b_tpu.py"


def test_the_study_crosses_three_layouts_with_two_remat_policies():
    sweep = sweep_lib.load(SWEEP)
    names = {run.name for run in sweep.runs}
    assert names == {f"{remat}-{layout}" for remat in ("full", "dots_with_no_batch_dims_saveable")
                     for layout in ("fsdp", "fsdp_x_tensor", "data_x_fsdp")}


def test_the_default_is_the_measured_best_at_sequence_4096_and_its_meshes_fit_both_slices():
    from experiments import qwen2vl_7b_tpu
    config = qwen2vl_7b_tpu.get_config()
    mcfg = presets.model_config(config.model)
    sequence = config.data.max_images * mcfg.tokens_per_view(config.data.image_size) + config.data.text_len
    assert sequence == 4096 and mcfg.hidden == 3584 and config.train.mode == "lora"
    assert config.model.remat == qwen2vl_7b_tpu.BEST_REMAT and config.mesh.fsdp == -1
    from jax.experimental import topologies
    for tpu, batch in (("v5p-8", 8), ("v5litepod-16", 16)):
        devices = topologies.get_topology_desc(**tpu_types.parse(tpu).topology_kwargs()).devices
        for run in sweep_lib.load(f"{SWEEP}:data.batch_size={batch}").runs:
            mesh_section = sweep_lib.apply_overrides(config, run.overrides).mesh
            shape = sharding.make_mesh(mesh_section, devices=devices).devices.shape
            assert batch % (shape[0] * shape[1]) == 0, (tpu, run.name, shape)
