# The Slurm integration test: a local single-node Slurm runs slurm/train.sbatch, preempts and
# requeues it. Needs root (it starts munged, slurmctld and slurmd).
add_test(NAME slurm_preempt_requeue
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/slurm_requeue_test.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(slurm_preempt_requeue PROPERTIES TIMEOUT 1200 RUN_SERIAL TRUE LABELS slurm)
