"""data.report_prompt_organ: report prompts name the exam's organ (the study ordered, which the
organ baseline is also given); other tasks' prompts and the targets are unchanged, and an exam
without an annotated organ gets the plain prompt."""
from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config
from usjax import taxonomy
from usjax.data import pipeline, tasks
from usjax.data import tokenizer as tok


def _prompt_of_row(batch, row) -> list[int]:
    first_target = int(batch["loss_mask"][row].argmax())
    return batch["tokens"][row][:first_target].tolist()


def test_report_rows_start_with_the_task_then_the_organ_name(tmp_path):
    source = memory_source(8, tmp_path)
    config = tiny_config(text_len=220, tasks=dict(report=1.0), report_prompt_organ=True)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    batch = pipeline.train_dataset(config, source, tokenizer, exam_records(range(8)), 0, 1)[0]
    organ_column = taxonomy.DIMENSIONS.index("organ")
    for row in range(4):
        organ = taxonomy.ORGANS[int(batch["labels"][row, organ_column])].name
        assert _prompt_of_row(batch, row) == [tok.BOS_ID, tokenizer.task_id("report"),
                                              *tokenizer.encode(organ)]


def test_off_the_report_prompt_is_the_task_token_alone(tmp_path):
    source = memory_source(8, tmp_path)
    config = tiny_config(text_len=220, tasks=dict(report=1.0), report_prompt_organ=False)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    batch = pipeline.train_dataset(config, source, tokenizer, exam_records(range(8)), 0, 1)[0]
    assert all(_prompt_of_row(batch, row) == [tok.BOS_ID, tokenizer.task_id("report")]
               for row in range(4))


def test_the_organ_changes_the_report_prompt_only(tmp_path):
    source = memory_source(4, tmp_path)
    tokenizer = pipeline.tokenizer_from_source(tiny_config(), source)
    record = source[0]
    with_organ = tasks.report_task(record, tokenizer, organ_in_prompt=True)
    plain = tasks.report_task(record, tokenizer)
    assert with_organ.target_ids == plain.target_ids and with_organ.reference == plain.reference
    assert with_organ.prompt_ids[:2] == plain.prompt_ids and len(with_organ.prompt_ids) > 2


def test_an_exam_without_an_annotated_organ_gets_the_plain_prompt(tmp_path):
    source = memory_source(2, tmp_path)
    tokenizer = pipeline.tokenizer_from_source(tiny_config(), source)
    unlabelled = {**source[0], "organ": -1}
    assert tasks.exam_organ_name(unlabelled) == ""
    assert tasks.report_task(unlabelled, tokenizer, organ_in_prompt=True).prompt_ids == [
        tok.BOS_ID, tokenizer.task_id("report")]
