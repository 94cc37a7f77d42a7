"""The one error the importer raises for bad input, and its record when the exam is skipped."""


class BadExamError(ValueError):
    """An exam that cannot be imported. `str()` is one line: the exam, the file, the problem."""

    def __init__(self, exam_id: str, file: str, problem: str):
        self.exam_id = exam_id
        self.file = str(file)
        self.problem = " ".join(problem.split())  # decoder messages may span lines
        super().__init__(f"exam {exam_id!r}, file {self.file}: {self.problem}")

    def as_record(self) -> dict[str, str]:
        """What the dataset metadata keeps about a skipped exam."""
        return {"exam_id": self.exam_id, "file": self.file, "problem": self.problem}
