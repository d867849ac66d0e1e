/** A FeatureFlags document for the controller's tests: a two-stage rollout, ElicitationErrorSpike mapped to partial. */
export const FEATURE_FLAGS_YAML = `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: rollout
  flags:
    elicitation:
      enabled: true
      agents: [test_agent_alpha]
  rollout:
    stages:
      - { percentage: 10, hold: 1h }
      - { percentage: 50, hold: 1h }
  rollback:
    alerts:
      - { alertName: ElicitationErrorSpike, level: partial }
    # No elicitation replica runs in these tests: the health-check trigger would roll back.
    healthCheck:
      enabled: false
`;
