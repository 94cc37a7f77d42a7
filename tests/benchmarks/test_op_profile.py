"""usjax.benchmarks.op_profile: op time filed under matmul, copy/transpose, broadcast, slicing, other."""
import jax
import jax.numpy as jnp

from usjax.benchmarks import op_profile

# The shape of XLA CPU's optimised HLO: fusions call computations; YNNPACK fusions hold a dot or not.
HLO = """\
%fused_dot (p0: f32[4,4], p1: f32[4,4]) -> f32[4,4] {
  %p0 = f32[4,4]{1,0} parameter(0)
  %p1 = f32[4,4]{1,0} parameter(1)
  ROOT %dot.1 = f32[4,4]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

%fused_add (p0: f32[4,4]) -> f32[4,4] {
  %p0 = f32[4,4]{1,0} parameter(0)
  ROOT %add.1 = f32[4,4]{1,0} add(%p0, %p0)
}

%fused_transpose (p0: f32[4,4]) -> f32[4,4] {
  %p0 = f32[4,4]{1,0} parameter(0)
  ROOT %transpose.1 = f32[4,4]{0,1} transpose(%p0), dimensions={1,0}
}

%wrapped_broadcast_computation (p0: f32[]) -> f32[2,4,4] {
  %p0 = f32[] parameter(0)
  ROOT %broadcast.1 = f32[2,4,4]{2,1,0} broadcast(%p0), dimensions={}
}

%fused_update (p0: f32[2,4,4], p1: f32[1,4,4], p2: s32[]) -> f32[2,4,4] {
  %p0 = f32[2,4,4]{2,1,0} parameter(0)
  %p1 = f32[1,4,4]{2,1,0} parameter(1)
  %p2 = s32[] parameter(2)
  %c = s32[] constant(0)
  ROOT %dus = f32[2,4,4]{2,1,0} dynamic-update-slice(%p0, %p1, %p2, %c, %c)
}

ENTRY %main (a: f32[4,4], b: f32[4,4], i: s32[]) -> f32[2,4,4] {
  %a = f32[4,4]{1,0} parameter(0)
  %b = f32[4,4]{1,0} parameter(1)
  %i = s32[] parameter(2)
  %ynn_fusion = f32[4,4]{1,0} fusion(%a, %b), kind=kCustom, calls=%fused_dot
  %ynn_fusion.1 = f32[4,4]{1,0} fusion(%ynn_fusion), kind=kCustom, calls=%fused_add
  %copy_bitcast_fusion = f32[4,4]{1,0} fusion(%ynn_fusion.1), kind=kLoop, calls=%fused_transpose
  %zero = f32[] constant(0)
  %wrapped_broadcast = f32[2,4,4]{2,1,0} fusion(%zero), kind=kLoop, calls=%wrapped_broadcast_computation
  %reshape.1 = f32[1,4,4]{2,1,0} reshape(%copy_bitcast_fusion)
  ROOT %update_fusion = f32[2,4,4]{2,1,0} fusion(%wrapped_broadcast, %reshape.1, %i), kind=kLoop, calls=%fused_update
}
"""


def test_instructions_are_filed_by_what_their_fusion_computes():
    kinds = op_profile.kind_of_instructions(HLO)
    assert kinds["ynn_fusion"] == "matmul"
    assert kinds["ynn_fusion.1"] == "other"  # a YNNPACK fusion without a dot is elementwise work
    assert kinds["copy_bitcast_fusion"] == "copy/transpose"
    assert kinds["wrapped_broadcast"] == "broadcast"
    assert kinds["update_fusion"] == "slicing"
    assert kinds["reshape.1"] == "other"


def test_a_compiled_matmul_is_filed_as_matmul():
    a = jnp.ones((64, 64))
    compiled = jax.jit(lambda x, y: jnp.tanh(x @ y)).lower(a, a).compile()
    kinds = op_profile.kind_of_instructions(compiled.as_text())
    assert "matmul" in kinds.values()


def test_a_matmul_program_spends_most_of_its_op_time_in_matmuls():
    a = jax.random.normal(jax.random.key(0), (384, 384))
    compiled = jax.jit(lambda x: jnp.tanh(x @ x @ x @ x)).lower(a).compile()
    shares = op_profile.profile_shares(compiled.as_text(), lambda: compiled(a).block_until_ready(), calls=3)
    assert shares.events >= 3 * 3  # three matmuls per call, three calls
    assert shares.total > 0
    assert shares.share("matmul") > 0.5
