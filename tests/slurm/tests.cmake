# The Slurm integration test: a local single-node Slurm runs slurm/train.sbatch, preempts and
# requeues it. Needs root (it starts munged, slurmctld and slurmd).
# Two scenarios: preemption (requeue and resume to the end) and a stalled rank (requeue within
# GST_STALL_RETRIES, then give up with exit code 4).
foreach(scenario preempt stall)
  add_test(NAME slurm_${scenario}_requeue
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/slurm_requeue_test.sh ${PROJECT_SOURCE_DIR}
            ${PROJECT_BINARY_DIR} ${scenario})
  set_tests_properties(slurm_${scenario}_requeue PROPERTIES TIMEOUT 1200 RUN_SERIAL TRUE
                       LABELS slurm)
endforeach()
