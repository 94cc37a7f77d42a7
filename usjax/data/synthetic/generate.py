"""One synthetic exam from (config, index): findings -> views -> pixels -> report and VQA."""
import dataclasses

from usjax.data.exam import Exam
from usjax.data.synthetic import body_marker, doppler, findings as findings_lib, identity, incidental
from usjax.data.synthetic import render
from usjax.data.synthetic import report
from usjax.data.synthetic import streams, texture, views as views_lib, vqa
from usjax.data.synthetic.config import SyntheticConfig
from usjax.data.synthetic.organs import ORGAN_PROFILES


@dataclasses.dataclass(frozen=True)
class ExamPlan:
    """Everything about an exam except its pixels and text: what tests check the pixels against."""
    organ_id: int
    lesions: tuple[findings_lib.LesionSpec, ...]  # the lesions that were placed, in mask order
    views: tuple[views_lib.ViewPlan, ...]


def plan_exam(index: int, cfg: SyntheticConfig) -> ExamPlan:
    sampled = findings_lib.sample_findings(index, cfg)
    views, kept = views_lib.plan_views(index, sampled, cfg)
    return ExamPlan(sampled.organ_id, tuple(sampled.lesions[i] for i in kept), views)


def render_plan(plan: ExamPlan, index: int, cfg: SyntheticConfig) -> Exam:
    size = cfg.image_size
    banks = texture.texture_banks(cfg.seed, size, cfg.texture_bank_size)
    profile = ORGAN_PROFILES[plan.organ_id]
    lesions = [spec.lesion for spec in plan.lesions]
    rng = streams.stream(cfg.seed, index, streams.PIXELS)
    images, masks = [], []
    for view in plan.views:
        grey, mask = render.render_bmode(view, plan.lesions, profile, banks, rng, size)
        if cfg.body_marker:
            body_marker.draw(grey, plan.organ_id, mask)
        if view.doppler:
            images.append(doppler.colour_flow(grey, mask, view.placements, lesions, banks, rng,
                                              size))
        else:
            images.append(render.to_rgb(grey))
        masks.append(mask)
    text_rng = streams.stream(cfg.seed, index, streams.TEXT)
    exam = Exam(exam_id=identity.exam_id(cfg.seed, index),
                patient_id=identity.patient_id(cfg.seed, index), organ_id=plan.organ_id,
                images=images, masks=masks, doppler=[v.doppler for v in plan.views],
                report=report.write_report(plan.organ_id, lesions, text_rng,
                                          incidental.sample_incidental(index, cfg)), vqa=[],
                lesions=lesions)
    exam.vqa = vqa.exam_vqa(exam)
    return exam


def generate_exam(index: int, cfg: SyntheticConfig) -> Exam:
    """The exam at `index` of the corpus `cfg` describes; a pure function of (cfg, index)."""
    return render_plan(plan_exam(index, cfg), index, cfg)
