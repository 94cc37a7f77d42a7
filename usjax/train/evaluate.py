"""Evaluation on the validation split: loss, generated reports and VQA answers, their metrics.

- `val_loss`: mean token loss of the report task over the first `eval.loss_batches` batches
  (every process reads its rows; the loss is a global sum over the mesh).
- `generation_metrics`: for the first `eval.generate_exams` exams (0: none), a greedy report
  (`usjax.models.decode.generate`) and a greedy answer to each of their VQA questions, scored
  with BLEU-1..4, ROUGE-1/2/L, clinical efficacy per dimension and VQA exact match.
- `reference_metrics`: the same metrics for the organ baseline (`baseline/...`) and the unigram
  model's loss on the validation reports (`reference/unigram_loss`).
"""
import functools

import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np

from usjax.data import batch_stats, corpus, global_batch, pipeline, tasks
from usjax.data import tokenizer as tok
from usjax.models import decode
from usjax.train import config_checks, references
from usjax.train import state as state_lib
from usjax.train import step as step_lib


class Evaluator:
    def __init__(self, config: ml_collections.ConfigDict, setup, graphdef, shardings):
        d = config.data
        self.config, self.setup, self.graphdef, self.shardings = config, setup, graphdef, shardings
        self.train_source = corpus.open_split(d.name, d.data_dir, "train")
        self.val_source = corpus.open_split(d.name, d.data_dir, "validation")
        self.tokenizer = pipeline.tokenizer_from_source(config, self.train_source)
        if self.tokenizer.vocab_size > setup.mcfg.vocab_size:
            raise config_checks.ConfigError(
                f"config.model.vocab_size={setup.mcfg.vocab_size} is smaller than the "
                f"tokenizer's {self.tokenizer.vocab_size} pieces; raise model.vocab_size to at "
                f"least data.vocab_size={config.data.vocab_size}")
        self.train_records = pipeline.training_records(config, self.train_source)
        self.train_exams = len({r.image_exam for r in self.train_records})
        self.batches = pipeline.eval_dataset(config, self.val_source, self.tokenizer,
                                             jax.process_index(), jax.process_count())
        self.batch_size = d.batch_size
        self._eval_step = jax.jit(functools.partial(step_lib.eval_step, graphdef=graphdef),
                                  in_shardings=(shardings.state, shardings.batch))

    def _global(self, local: dict) -> dict:
        return global_batch.global_batch(batch_stats.model_inputs(local), self.setup.mesh,
                                         self.shardings.batch_spec)

    def _num_batches(self, exams: int) -> int:
        return min(len(self.batches), -(-exams // self.batch_size))

    def val_loss(self, state: state_lib.TrainState) -> float:
        loss_sum, tokens = 0.0, 0.0
        with self.setup.mesh_context():
            for k in range(min(len(self.batches), self.config.eval.loss_batches)):
                out = jax.device_get(self._eval_step(state, self._global(self.batches[k])))
                loss_sum, tokens = loss_sum + float(out["loss_sum"]), tokens + float(
                    out["target_tokens"])
        return loss_sum / max(tokens, 1.0)

    def _local_exams(self, k: int) -> list[int]:
        """Split indices of this process's rows of global batch k (past the end: None)."""
        local = self.batch_size // jax.process_count()
        first = k * self.batch_size + jax.process_index() * local
        return [i if i < len(self.val_source) else None for i in range(first, first + local)]

    def _generate(self, model, images, image_mask, prompts: list[list[int]], width: int,
                  max_new_tokens: int):
        """Greedy continuations (token lists, all processes' rows in global order). Prompts are
        right-padded to `width`, the same for every call of a task, so generation compiles once."""
        prompt = np.full((len(prompts), width), tok.PAD_ID, np.int32)
        for row, ids in enumerate(prompts):
            prompt[row, :len(ids)] = ids
        sharding = self.shardings.batch["tokens"]
        prompt_g, mask_g = (jax.make_array_from_process_local_data(sharding, x)
                            for x in (prompt, prompt != tok.PAD_ID))
        out, _ = decode.generate(model, images, image_mask, prompt_g, mask_g,
                                 max_new_tokens=max_new_tokens)
        out = np.asarray(multihost_utils.process_allgather(out, tiled=True))
        # The model's vocabulary may be larger than the tokenizer's: such ids have no text.
        return np.where(out < self.tokenizer.vocab_size, out, tok.UNK_ID)

    def generation_metrics(self, state: state_lib.TrainState) -> dict[str, float]:
        e = self.config.eval
        if e.generate_exams == 0:  # loss-only runs (e.g. scaling grids)
            return {}
        model = state_lib.merge(self.graphdef, state)
        model.eval()
        reports, answers = [], []
        vqa_width = self._vqa_prompt_width()
        with self.setup.mesh_context():
            for k in range(self._num_batches(e.generate_exams)):
                batch = self._global(self.batches[k])
                exams = self._local_exams(k)
                records = [self.val_source[i] if i is not None else None for i in exams]
                report_prompts = [tasks.report_task(r, self.tokenizer).prompt_ids if r else
                                  [tok.BOS_ID] for r in records]
                reports += [self.tokenizer.decode(t) for t in self._generate(
                    model, batch["images"], batch["image_mask"], report_prompts,
                    max(map(len, report_prompts)), e.max_new_tokens)]
                pairs = max([tasks.num_vqa_pairs(r) for r in records if r] or [0])
                pairs = int(multihost_utils.process_allgather(np.int32(pairs)).max())
                per_pair = []
                for q in range(pairs):
                    prompts = [tasks.vqa_task(r, q, self.tokenizer).prompt_ids
                               if r and q < tasks.num_vqa_pairs(r) else [tok.BOS_ID]
                               for r in records]
                    per_pair.append([self.tokenizer.decode(t) for t in self._generate(
                        model, batch["images"], batch["image_mask"], prompts, vqa_width,
                        e.max_answer_tokens)])
                # exam-major order: every answer of exam 0, then of exam 1, ...
                first = k * self.batch_size
                for row in range(self.batch_size):
                    if first + row < len(self.val_source):
                        answers += [per_pair[q][row] for q in range(
                            tasks.num_vqa_pairs(self.val_source[first + row]))]
        exams = self._generation_exams()
        return references.score(reports[:len(exams)], self._answers_of(answers, exams),
                                [self.val_source[i] for i in exams])

    def _vqa_prompt_width(self) -> int:
        """The longest VQA prompt of the exams generation reads (the same on every process)."""
        exams = range(min(len(self.val_source),
                          self._num_batches(self.config.eval.generate_exams) * self.batch_size))
        widths = [len(tasks.vqa_task(self.val_source[i], q, self.tokenizer).prompt_ids)
                  for i in exams for q in range(tasks.num_vqa_pairs(self.val_source[i]))]
        return max(widths, default=1)

    def _generation_exams(self) -> list[int]:
        return list(range(min(self.config.eval.generate_exams, len(self.val_source))))

    def _answers_of(self, answers: list[str], exams: list[int]) -> list[str]:
        count = sum(tasks.num_vqa_pairs(self.val_source[i]) for i in exams)
        return answers[:count]

    def reference_metrics(self) -> dict[str, float]:
        train_text = [self.train_source[r.text_exam] for r in self.train_records]
        metrics = {}
        if self.config.eval.generate_exams > 0:
            metrics.update(references.baseline_metrics(
                references.fit_baseline(train_text),
                [self.val_source[i] for i in self._generation_exams()]))
        loss_exams = min(len(self.val_source),
                         self.config.eval.loss_batches * self.batch_size)
        metrics["reference/unigram_loss"] = references.unigram_loss(
            train_text, [self.val_source[i] for i in range(loss_exams)], self.tokenizer)
        return metrics
