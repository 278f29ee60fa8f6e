"""Autograding that never runs a student's code with anyone's rights.

nbgrader's autograde executes each submission's notebook; here only that execution leaves the
teacher's process. `execute.SandboxExecute` (nbgrader's `Execute`, put in its place by
`nbgrader_setup`) sends the sanitised notebook and its folder to the grading service
(`broker`), which runs `runner` in a throwaway sandbox (`sandbox_local`: a per-run uid with
limits; `sandbox_container`: a throwaway container of the user image) and hands back each
cell's outputs. The teacher's side copies only those outputs into its own notebook, and
nbgrader's own preprocessors score them and write the gradebook. `on_submit` grades each new
submission as it arrives, and `status` tells students where theirs is.
"""

# nbgrader's autograde preprocessors (0.9.6), with its Execute replaced by the sandboxed one:
# no autograde runs a student's code with the teacher's rights (hubsetup.grading). By name,
# so that loading this configuration imports nothing.
AUTOGRADE_PREPROCESSORS = [
    "hubsetup.grading.execute.SandboxExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
