{{/* Names ---------------------------------------------------------------------------------------- */}}

{{- define "agent-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agent-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* <fullname>-<component>, e.g. agent-bridge-legacy-poll. Call with (list $ "legacy-poll"). */}}
{{- define "agent-bridge.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "agent-bridge.fullname" $root | trunc 45 | trimSuffix "-") (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agent-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels. Call the component variants with (list $ "<component>"). ------------------------------ */}}

{{- define "agent-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agent-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "agent-bridge.labels" -}}
helm.sh/chart: {{ include "agent-bridge.chart" . }}
{{ include "agent-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agent-bridge
{{- end }}

{{- define "agent-bridge.componentSelectorLabels" -}}
{{ include "agent-bridge.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "agent-bridge.componentLabels" -}}
{{ include "agent-bridge.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Image ---------------------------------------------------------------------------------------- */}}

{{- define "agent-bridge.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Secrets and their keys ----------------------------------------------------------------------- */}}

{{- define "agent-bridge.redisSecretName" -}}
{{- if .Values.redis.existingSecret }}{{ .Values.redis.existingSecret }}{{ else }}{{ include "agent-bridge.componentName" (list . "redis-url") }}{{ end }}
{{- end }}

{{- define "agent-bridge.redisSecretKey" -}}
{{- if .Values.redis.existingSecret }}{{ .Values.redis.existingSecretKey }}{{ else }}redis-url{{ end }}
{{- end }}

{{- define "agent-bridge.agentTokensSecretName" -}}
{{- if .Values.agentTokens.existingSecret }}{{ .Values.agentTokens.existingSecret }}{{ else }}{{ include "agent-bridge.componentName" (list . "agent-tokens") }}{{ end }}
{{- end }}

{{- define "agent-bridge.agentTokensSecretKey" -}}
{{- if .Values.agentTokens.existingSecret }}{{ .Values.agentTokens.existingSecretKey }}{{ else }}agent-tokens.json{{ end }}
{{- end }}

{{- define "agent-bridge.controllerTokensSecretName" -}}
{{- if .Values.controller.tokens.existingSecret }}{{ .Values.controller.tokens.existingSecret }}{{ else }}{{ include "agent-bridge.componentName" (list . "controller-tokens") }}{{ end }}
{{- end }}

{{- define "agent-bridge.redisAuthSecretName" -}}
{{- if .Values.redis.internal.auth.existingSecret }}{{ .Values.redis.internal.auth.existingSecret }}{{ else }}{{ include "agent-bridge.componentName" (list . "redis-auth") }}{{ end }}
{{- end }}

{{- define "agent-bridge.relaySecretName" -}}
{{- if .Values.relay.credential.existingSecret }}{{ .Values.relay.credential.existingSecret }}{{ else }}{{ include "agent-bridge.componentName" (list . "inter-replica") }}{{ end }}
{{- end }}

{{/* The headless Service whose CoreDNS names (<pod-ip-dashed>.<service>.<namespace>.svc) the pods of a relaying component advertise. Call with (list $ "elicitation"|"controller"). */}}
{{- define "agent-bridge.replicasServiceName" -}}
{{- include "agent-bridge.componentName" (list (index . 0) (printf "%s-replicas" (index . 1))) }}
{{- end }}

{{- define "agent-bridge.requestStateSecretName" -}}
{{- if .Values.elicitation.requestState.existingSecret }}{{ .Values.elicitation.requestState.existingSecret }}{{ else }}{{ include "agent-bridge.componentName" (list . "request-state") }}{{ end }}
{{- end }}

{{/* The ServiceAccount of the pods that run the controller container. */}}
{{- define "agent-bridge.controllerServiceAccountName" -}}
{{- include "agent-bridge.componentName" (list . "controller") }}
{{- end }}

{{/* Is the controller a sidecar of the router pods? */}}
{{- define "agent-bridge.controllerSidecar" -}}
{{- if and .Values.controller.enabled (eq .Values.controller.mode "sidecar") }}true{{ end }}
{{- end }}

{{/*
Where agents reach the endpoints from outside, whatever exposes them: a JSON object with, per
enabled endpoint (legacy, elicitation), "hosts" (every public host with its scheme: route hostnames,
Ingress host) and "url" (host, path, scheme: the route's first hostname, else the Ingress host);
{} with exposure none. Read it with fromJson.
*/}}
{{- define "agent-bridge.publicEndpoints" -}}
{{- $out := dict }}
{{- range $key, $component := dict "legacy" "legacyPoll" "elicitation" "elicitation" }}
{{- if (index $.Values $component).enabled }}
{{- $hosts := list }}
{{- $url := dict }}
{{- if has $.Values.exposure (list "gateway" "both") }}
{{- $r := index $.Values.gateway $key }}
{{- range $r.hostnames }}{{ $hosts = append $hosts (dict "host" . "scheme" $.Values.gateway.scheme) }}{{ end }}
{{- $url = dict "host" (first $r.hostnames) "path" $r.path "scheme" $.Values.gateway.scheme }}
{{- end }}
{{- if has $.Values.exposure (list "ingress" "both") }}
{{- $i := index $.Values.ingress $key }}
{{- $hosts = append $hosts (dict "host" $i.host "scheme" (ternary "https" "http" (ne $i.tlsSecretName ""))) }}
{{- $url = $url | default (dict "host" $i.host "path" $i.path "scheme" (ternary "https" "http" (ne $i.tlsSecretName ""))) }}
{{- end }}
{{- if $hosts }}{{ $_ := set $out $key (dict "hosts" $hosts "url" $url) }}{{ end }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* A Gateway API duration (1h30m, 120s, 500ms) in milliseconds; 0s is 0 (no timeout). */}}
{{- define "agent-bridge.durationMs" -}}
{{- $ms := 0 }}
{{- range $part := regexFindAll "[0-9]+(ms|h|m|s)" (toString .) -1 }}
{{- $n := int (regexFind "^[0-9]+" $part) }}
{{- $unit := trimPrefix (toString $n) $part }}
{{- $ms = add $ms (mul $n (get (dict "h" 3600000 "m" 60000 "s" 1000 "ms" 1) $unit)) }}
{{- end }}
{{- $ms }}
{{- end }}

{{/* The URL agents reach the elicitation endpoint at (ELICITATION_ENDPOINT_URL of legacy-poll). */}}
{{- define "agent-bridge.elicitationEndpointUrl" -}}
{{- $public := fromJson (include "agent-bridge.publicEndpoints" .) }}
{{- with $public.elicitation }}
{{- printf "%s://%s%s" .url.scheme .url.host .url.path }}
{{- else }}
{{- printf "http://%s:%v/mcp" (include "agent-bridge.componentName" (list . "elicitation")) .Values.elicitation.port }}
{{- end }}
{{- end }}

{{/*
Origin and Host checks of the MCP endpoints (MCP_ALLOWED_ORIGINS, MCP_ALLOWED_HOSTS): the pages
allowed are the public hosts' origins (route hostnames or Ingress hosts) plus mcpAccess.allowedOrigins
("none" when there is none); the names the endpoints answer to are those hosts, the Services' cluster names (any port)
and mcpAccess.allowedHosts, or any name with mcpAccess.checkHost false.
*/}}
{{- define "agent-bridge.mcpAccessEnv" -}}
{{- $origins := list }}
{{- $hosts := list }}
{{- $public := fromJson (include "agent-bridge.publicEndpoints" .) }}
{{- range $key := list "legacy" "elicitation" }}
{{- $endpoint := index $public $key | default (dict "hosts" list) }}
{{- range $h := $endpoint.hosts }}
{{- $origins = append $origins (printf "%s://%s" $h.scheme $h.host) }}
{{- $hosts = append $hosts (printf "%s:*" $h.host) }}
{{- end }}
{{- end }}
{{- range $component := list "legacy-poll" "elicitation" }}
{{- $service := include "agent-bridge.componentName" (list $ $component) }}
{{- range $name := list $service (printf "%s.%s" $service $.Release.Namespace) (printf "%s.%s.svc" $service $.Release.Namespace) (printf "%s.%s.svc.cluster.local" $service $.Release.Namespace) }}
{{- $hosts = append $hosts (printf "%s:*" $name) }}
{{- end }}
{{- end }}
{{- $origins = concat $origins .Values.mcpAccess.allowedOrigins | uniq }}
{{- $hosts = concat $hosts .Values.mcpAccess.allowedHosts | uniq }}
- name: MCP_ALLOWED_ORIGINS
  value: {{ ternary (join "," $origins) "none" (gt (len $origins) 0) | quote }}
- name: MCP_ALLOWED_HOSTS
  value: {{ ternary (join "," $hosts) "*" .Values.mcpAccess.checkHost | quote }}
{{- end }}

{{/* Validation of combinations the schema cannot express; fails the render with a sentence. ------- */}}

{{- define "agent-bridge.validate" -}}
{{- $redisSources := 0 }}
{{- if .Values.redis.existingSecret }}{{ $redisSources = add1 $redisSources }}{{ end }}
{{- if .Values.redis.url }}{{ $redisSources = add1 $redisSources }}{{ end }}
{{- if .Values.redis.internal.enabled }}{{ $redisSources = add1 $redisSources }}{{ end }}
{{- if and .Values.redis.internal.enabled (not (empty .Values.redis.cluster.nodes)) }}
{{- fail "agent-bridge: redis.cluster.nodes names a Redis Cluster, but redis.internal.enabled runs one Redis in the chart: use an external cluster (redis.existingSecret or redis.url) or leave redis.cluster.nodes empty" }}
{{- end }}
{{- if ne $redisSources 1 }}
{{- fail "agent-bridge: set exactly one of redis.existingSecret, redis.url and redis.internal.enabled (where the event store is)" }}
{{- end }}
{{- if and (or .Values.legacyPoll.enabled .Values.elicitation.enabled) (not .Values.agentTokens.existingSecret) (empty .Values.agentTokens.agents) }}
{{- fail "agent-bridge: the agent endpoints need tokens: set agentTokens.existingSecret (a Secret with the hashed tokens JSON) or agentTokens.agents" }}
{{- end }}
{{- if and .Values.agentTokens.existingSecret (not (empty .Values.agentTokens.agents)) }}
{{- fail "agent-bridge: set agentTokens.existingSecret or agentTokens.agents, not both" }}
{{- end }}
{{- if eq .Values.elicitation.requestState.existingSecretKey .Values.elicitation.requestState.previousKeySecretKey }}
{{- fail "agent-bridge: elicitation.requestState.existingSecretKey and previousKeySecretKey name the same Secret key; the current and the previous requestState keys need a key each" }}
{{- end }}
{{- if eq .Values.relay.credential.existingSecretKey .Values.relay.credential.previousKeySecretKey }}
{{- fail "agent-bridge: relay.credential.existingSecretKey and previousKeySecretKey name the same Secret key; the current and the previous inter-replica keys need a key each" }}
{{- end }}
{{- if and (eq .Values.relay.addressing "podIP") (empty .Values.relay.allowedTargets) }}
{{- fail "agent-bridge: relay.addressing=podIP needs relay.allowedTargets (e.g. the pod CIDR, 10.244.0.0/16): without it no replica may relay to another" }}
{{- end }}
{{- if and (eq .Values.controller.mode "sidecar") .Values.controller.enabled (not .Values.router.enabled) }}
{{- fail "agent-bridge: controller.mode=sidecar runs the controller in the router pods; enable the router or set controller.mode=deployment" }}
{{- end }}
{{- if and .Values.router.autoscaling.enabled (gt (int .Values.router.autoscaling.maxReplicas) (int .Values.shardCount)) }}
{{- fail (printf "agent-bridge: router.autoscaling.maxReplicas (%v) is above shardCount (%v): routers beyond the number of shards would own none" .Values.router.autoscaling.maxReplicas .Values.shardCount) }}
{{- end }}
{{- if and (not .Values.router.autoscaling.enabled) (gt (int .Values.router.replicas) (int .Values.shardCount)) }}
{{- fail (printf "agent-bridge: router.replicas (%v) is above shardCount (%v): routers beyond the number of shards would own none" .Values.router.replicas .Values.shardCount) }}
{{- end }}
{{- if hasKey .Values.ingress "enabled" }}
{{- fail "agent-bridge: ingress.enabled is gone: set exposure to gateway (HTTPRoutes, the default), ingress, both (while moving) or none (docs/deployment.md, \"From the Ingress values to the Gateway API\")" }}
{{- end }}
{{- if hasKey .Values.ingress "nginx" }}
{{- fail "agent-bridge: ingress.nginx is gone: set ingress.preset to nginx (the ingress-nginx annotations), generic (none) or auto (nginx when ingress.className is nginx)" }}
{{- end }}
{{- if not (has .Values.exposure (list "gateway" "ingress" "both" "none")) }}
{{- fail (printf "agent-bridge: exposure is %v: set gateway (HTTPRoutes), ingress (Ingress objects), both (while moving from one to the other) or none" .Values.exposure) }}
{{- end }}
{{- /* The holds a proxy in front must outlast: the longest poll (both endpoints), the longest elicit (elicitation). */}}
{{- $holds := dict }}
{{- range $endpoint, $component := dict "legacy" "legacyPoll" "elicitation" "elicitation" }}
{{- $settings := merge (dict) (index $.Values $component "settings") $.Values.settings }}
{{- $pollMs := int (default 55000 (index $settings "POLL_TIMEOUT_MAX_MS")) }}
{{- $elicitMs := ternary (int (default 55000 (index $settings "ELICIT_TIMEOUT_MAX_MS"))) 0 (eq $endpoint "elicitation") }}
{{- $_ := set $holds $endpoint (dict "ms" (max $pollMs $elicitMs) "what" (ternary (printf "the longest poll or elicit (POLL_TIMEOUT_MAX_MS %d ms, ELICIT_TIMEOUT_MAX_MS %d ms)" $pollMs $elicitMs) (printf "the longest poll (POLL_TIMEOUT_MAX_MS %d ms)" $pollMs) (eq $endpoint "elicitation")) "keepaliveMs" (int (default 15000 (index $settings "KEEPALIVE_MS")))) }}
{{- end }}
{{- if has .Values.exposure (list "gateway" "both") }}
{{- if empty .Values.gateway.parentRefs }}
{{- fail "agent-bridge: exposure gateway needs gateway.parentRefs: the Gateway the routes attach to (name, and namespace when it is not the release's)" }}
{{- end }}
{{- if not (has .Values.gateway.scheme (list "http" "https")) }}
{{- fail (printf "agent-bridge: gateway.scheme is %v: http or https (what agents use on the Gateway's listener)" .Values.gateway.scheme) }}
{{- end }}
{{- range $endpoint, $component := dict "legacy" "legacyPoll" "elicitation" "elicitation" }}
{{- if (index $.Values $component).enabled }}
{{- $r := index $.Values.gateway $endpoint }}
{{- if empty $r.hostnames }}
{{- fail (printf "agent-bridge: gateway.%s.hostnames is empty: list the host names agents use for this endpoint" $endpoint) }}
{{- end }}
{{- $hold := index $holds $endpoint }}
{{- $rules := list (list "timeouts" $r.timeouts) }}
{{- if eq $endpoint "elicitation" }}{{ $rules = append $rules (list "streamTimeouts" $r.streamTimeouts) }}{{ end }}
{{- range $rule := $rules }}
{{- $name := index $rule 0 }}
{{- range $field := list "request" "backendRequest" }}
{{- $value := index (index $rule 1) $field }}
{{- if not (regexMatch "^([0-9]{1,5}(h|m|s|ms)){1,4}$" (toString $value)) }}
{{- fail (printf "agent-bridge: gateway.%s.%s.%s is %v: a Gateway API duration such as 120s, 2m or 1h (0s: no timeout)" $endpoint $name $field $value) }}
{{- end }}
{{- $ms := int (include "agent-bridge.durationMs" $value) }}
{{- if and (ne $ms 0) (lt $ms (add $hold.ms 10000)) }}
{{- fail (printf "agent-bridge: gateway.%s.%s.%s (%s) must exceed %s by at least 10 s, or the gateway cuts it (0s: no timeout)" $endpoint $name $field $value $hold.what) }}
{{- end }}
{{- if and (eq $name "streamTimeouts") (ne $ms 0) (le $ms (mul 2 $hold.keepaliveMs)) }}
{{- fail (printf "agent-bridge: gateway.%s.%s.%s (%s) must be more than twice KEEPALIVE_MS (%d ms)" $endpoint $name $field $value $hold.keepaliveMs) }}
{{- end }}
{{- end }}
{{- $request := int (include "agent-bridge.durationMs" (index $rule 1).request) }}
{{- if and (ne $request 0) (or (eq (int (include "agent-bridge.durationMs" (index $rule 1).backendRequest)) 0) (gt (int (include "agent-bridge.durationMs" (index $rule 1).backendRequest)) $request)) }}
{{- fail (printf "agent-bridge: gateway.%s.%s.backendRequest (%s) is longer than request (%s): the request timeout covers the backend's (Gateway API); make backendRequest at most request" $endpoint $name (index $rule 1).backendRequest (index $rule 1).request) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $sp := .Values.gateway.elicitation.sessionPersistence }}
{{- if not (has $sp.type (list "None" "Cookie" "Header")) }}
{{- fail (printf "agent-bridge: gateway.elicitation.sessionPersistence.type is %v: None (replica forwarding), Cookie or Header" $sp.type) }}
{{- end }}
{{- if and (eq $sp.type "Header") (ne (lower $sp.sessionName) "mcp-session-id") }}
{{- fail (printf "agent-bridge: gateway.elicitation.sessionPersistence.type Header needs sessionName Mcp-Session-Id (it is %s): MCP clients send back no other header, so any other name would pin nothing" $sp.sessionName) }}
{{- end }}
{{- if and (eq $sp.type "Cookie") (eq $sp.cookieLifetime "Permanent") (empty $sp.absoluteTimeout) }}
{{- fail "agent-bridge: gateway.elicitation.sessionPersistence.cookieLifetime Permanent needs absoluteTimeout (how long the cookie lives, e.g. 24h)" }}
{{- end }}
{{- if and .Values.legacyPoll.enabled .Values.elicitation.enabled (eq .Values.gateway.legacy.path .Values.gateway.elicitation.path) }}
{{- range $host := .Values.gateway.legacy.hostnames }}
{{- if has $host $.Values.gateway.elicitation.hostnames }}
{{- fail (printf "agent-bridge: gateway.legacy and gateway.elicitation both route %s%s; give them different hostnames or paths" $host $.Values.gateway.legacy.path) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if has .Values.exposure (list "ingress" "both") }}
{{- if not (has .Values.ingress.preset (list "auto" "nginx" "generic")) }}
{{- fail (printf "agent-bridge: ingress.preset is %v: auto (nginx when ingress.className is nginx), nginx or generic" .Values.ingress.preset) }}
{{- end }}
{{- if and .Values.legacyPoll.enabled .Values.elicitation.enabled (eq .Values.ingress.legacy.host .Values.ingress.elicitation.host) (eq .Values.ingress.legacy.path .Values.ingress.elicitation.path) }}
{{- fail "agent-bridge: ingress.legacy and ingress.elicitation have the same host and path; give them different hosts or paths" }}
{{- end }}
{{- range $endpoint := list "legacy" "elicitation" }}
{{- if and (eq (include "agent-bridge.ingressPreset" $) "generic") (ne (index $.Values.ingress $endpoint "path") "/mcp") }}
{{- fail (printf "agent-bridge: ingress.%s.path is %s, but the generic preset cannot rewrite it to /mcp (where the services serve MCP): use /mcp, ingress.preset nginx, or exposure gateway (URLRewrite)" $endpoint (index $.Values.ingress $endpoint "path")) }}
{{- end }}
{{- $hold := index $holds $endpoint }}
{{- $readTimeout := int (index $.Values.ingress $endpoint "readTimeoutSeconds") }}
{{- if lt (mul $readTimeout 1000) (add $hold.ms 10000) }}
{{- fail (printf "agent-bridge: ingress.%s.readTimeoutSeconds (%d) must exceed %s by at least 10 s, or the proxy cuts it" $endpoint $readTimeout $hold.what) }}
{{- end }}
{{- end }}
{{- if le (mul (int .Values.ingress.elicitation.readTimeoutSeconds) 1000) (mul $holds.elicitation.keepaliveMs 2) }}
{{- fail (printf "agent-bridge: ingress.elicitation.readTimeoutSeconds (%v) must be more than twice KEEPALIVE_MS (%d ms), or the proxy closes idle SSE streams between keep-alives" .Values.ingress.elicitation.readTimeoutSeconds $holds.elicitation.keepaliveMs) }}
{{- end }}
{{- end }}
{{- end }}

{{/* NetworkPolicy peers agent traffic comes from: the Gateway's data plane, the ingress controller, or both. */}}
{{- define "agent-bridge.npFrontPeers" -}}
{{- $np := .Values.networkPolicy }}
{{- if has .Values.exposure (list "gateway" "both") }}
{{ include "agent-bridge.npPeer" $np.gateway }}
{{- end }}
{{- if has .Values.exposure (list "ingress" "both" "none") }}
{{ include "agent-bridge.npPeer" $np.ingressController }}
{{- end }}
{{- end }}

{{/* The Ingress preset in effect: nginx or generic. */}}
{{- define "agent-bridge.ingressPreset" -}}
{{- if eq .Values.ingress.preset "auto" }}{{ ternary "nginx" "generic" (eq .Values.ingress.className "nginx") }}{{ else }}{{ .Values.ingress.preset }}{{ end }}
{{- end }}

{{/* Pod pieces ----------------------------------------------------------------------------------- */}}

{{/* Environment every agent-bridge container gets. Call with (list $ <component values>). */}}
{{- define "agent-bridge.commonEnv" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 -}}
{{- if $root.Values.redis.internal.enabled }}
# The in-chart Redis requires this password (requirepass); the URL below carries it.
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "agent-bridge.redisAuthSecretName" $root }}
      key: {{ $root.Values.redis.internal.auth.existingSecretKey }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379" (include "agent-bridge.componentName" (list $root "redis")) | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "agent-bridge.redisSecretName" $root }}
      key: {{ include "agent-bridge.redisSecretKey" $root }}
{{- end }}
{{- with $root.Values.redis.cluster.nodes }}
# A Redis Cluster: the seed nodes (REDIS_URL gives the scheme and the credentials).
- name: REDIS_CLUSTER_NODES
  value: {{ join "," . | quote }}
{{- end }}
{{- if $root.Values.redis.cluster.waitReplicas }}
# Replicas that must have each accepted message before its sender is told (docs/event-store.md, "Failover").
- name: REDIS_WAIT_REPLICAS
  value: {{ $root.Values.redis.cluster.waitReplicas | quote }}
- name: REDIS_WAIT_TIMEOUT_MS
  value: {{ $root.Values.redis.cluster.waitTimeoutMs | quote }}
{{- end }}
- name: SHARD_COUNT
  value: {{ $root.Values.shardCount | quote }}
- name: KEY_PREFIX
  value: {{ $root.Values.keyPrefix | quote }}
- name: HOST
  value: "0.0.0.0"
- name: PORT
  value: {{ $component.port | quote }}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- $settings := merge (dict) $component.settings $root.Values.settings }}
{{- /* The in-chart Redis: the services hold it to the durability it is configured with. */}}
{{- if and $root.Values.redis.internal.enabled (kindIs "invalid" (index $settings "REDIS_REQUIRED_APPENDFSYNC")) }}
- name: REDIS_REQUIRED_APPENDFSYNC
  value: {{ $root.Values.redis.internal.appendfsync | quote }}
{{- end }}
{{- range $name := keys $settings | sortAlpha }}
{{- $value := index $settings $name }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.tracing }}
{{- if .otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .otlpEndpoint | quote }}
{{- end }}
{{- if .sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
{{- end }}
{{- if .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | quote }}
{{- end }}
{{- if .resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ .resourceAttributes | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $component.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
How a relaying component's pods reach each other (docs/decisions/0011-inter-replica-credential.md):
ADVERTISE_URL, the inter-replica key from its Secret, and RELAY_ALLOWED_TARGETS. With
relay.addressing=dns a pod advertises its CoreDNS name under the component's headless Service,
which resolves only to that Service's pods, and relays only to such names (plus
relay.allowedTargets). Call with (list $ "elicitation"|"controller" <port>).
*/}}
{{- define "agent-bridge.relayEnv" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $port := index . 2 }}
{{- $r := $root.Values.relay }}
{{- $targets := list }}
{{- if eq $r.addressing "dns" }}
{{- $targets = append $targets (printf "*.%s.%s.svc" (include "agent-bridge.replicasServiceName" (list $root $component)) $root.Release.Namespace) }}
{{- end }}
{{- $targets = concat $targets $r.allowedTargets | uniq -}}
- name: ADVERTISE_URL
{{- if eq $r.addressing "dns" }}
  value: {{ printf "http://{pod-ip-dashed}.%s.%s.svc:%v" (include "agent-bridge.replicasServiceName" (list $root $component)) $root.Release.Namespace $port | quote }}
{{- else }}
  value: "http://$(POD_IP):{{ $port }}"
{{- end }}
- name: RELAY_ALLOWED_TARGETS
  value: {{ join "," $targets | quote }}
- name: INTER_REPLICA_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "agent-bridge.relaySecretName" $root }}
      key: {{ $r.credential.existingSecretKey }}
- name: INTER_REPLICA_PREVIOUS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "agent-bridge.relaySecretName" $root }}
      key: {{ $r.credential.previousKeySecretKey }}
      optional: true
{{- end }}

{{/* Probes on the container's named port. Call with (list $ "<port name>"). */}}
{{- define "agent-bridge.probes" -}}
{{- $p := (index . 0).Values.probes }}
{{- $port := index . 1 -}}
startupProbe:
  httpGet: { path: /healthz, port: {{ $port }} }
  periodSeconds: {{ $p.startup.periodSeconds }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
livenessProbe:
  httpGet: { path: /healthz, port: {{ $port }} }
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  httpGet: { path: /readyz, port: {{ $port }} }
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
{{- end }}

{{- define "agent-bridge.preStop" -}}
{{- if gt (int .Values.preStopSleepSeconds) 0 }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "{{ .Values.preStopSleepSeconds }}"]
{{- end }}
{{- end }}

{{/* preStop sleep + SHUTDOWN_GRACE_MS (+2 s the service allows itself) + a margin. Call with (list $ <component values>). */}}
{{- define "agent-bridge.terminationGracePeriodSeconds" -}}
{{- $root := index . 0 }}
{{- $settings := merge (dict) (index . 1).settings $root.Values.settings }}
{{- $graceMs := int (default 10000 (index $settings "SHUTDOWN_GRACE_MS")) }}
{{- add (int $root.Values.preStopSleepSeconds) (div (add $graceMs 999) 1000) 2 5 }}
{{- end }}

{{/* /tmp for anything that needs a scratch file (the root filesystem is read-only). */}}
{{- define "agent-bridge.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "agent-bridge.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Scheduling keys of a component. Call with (list $ <component values> "<component>"). */}}
{{- define "agent-bridge.scheduling" -}}
{{- $root := index . 0 }}
{{- $c := index . 1 }}
{{- $name := index . 2 }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $c.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml $c.topologySpreadConstraints | nindent 2 }}
{{- else if $root.Values.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: {{ $root.Values.topologySpread.topologyKey }}
    whenUnsatisfiable: {{ $root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "agent-bridge.componentSelectorLabels" (list $root $name) | trim | nindent 8 }}
{{- end }}
{{- end }}

{{/* Pod-level spec shared by the agent-bridge pods. Call with (list $ "<serviceaccount>"). */}}
{{- define "agent-bridge.podCommon" -}}
{{- $root := index . 0 -}}
serviceAccountName: {{ index . 1 }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The agent-tokens volume (legacy-poll, elicitation). */}}
{{- define "agent-bridge.agentTokensVolume" -}}
- name: agent-tokens
  secret:
    secretName: {{ include "agent-bridge.agentTokensSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ include "agent-bridge.agentTokensSecretKey" . }}
        path: agent-tokens.json
{{- end }}

{{/* Volumes of the controller container: its tokens and its own projected API token. */}}
{{- define "agent-bridge.controllerVolumes" -}}
{{- if and .Values.progressPage.enabled .Values.progressPage.token.existingSecret }}
- name: progress-token
  secret:
    secretName: {{ .Values.progressPage.token.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.progressPage.token.key }}
        path: progress-token
{{- end }}
- name: controller-tokens
  secret:
    secretName: {{ include "agent-bridge.controllerTokensSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.controller.tokens.adminTokenKey }}
        path: admin-token
      - key: {{ .Values.controller.tokens.webhookTokenKey }}
        path: webhook-token
{{- if or .Values.legacyPoll.enabled .Values.elicitation.enabled }}
{{ include "agent-bridge.agentTokensVolume" . | trim }}
{{- end }}
# What automountServiceAccountToken would mount, but only into the controller container: the other
# containers of the pod (the router, in sidecar mode) get no API credentials.
- name: kube-api-access
  projected:
    defaultMode: 0444
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
{{- $n := .Values.controller.notifications }}
{{- with $n.webhook.existingSecret }}
- name: notify-webhook
  secret:
    secretName: {{ . }}
    defaultMode: 0440
    items:
      - key: {{ $n.webhook.tokenKey }}
        path: token
{{- end }}
{{- with $n.smtp.existingSecret }}
- name: notify-smtp
  secret:
    secretName: {{ . }}
    defaultMode: 0440
    items:
      - key: {{ $n.smtp.passwordKey }}
        path: password
{{- end }}
{{- end }}

{{/* The owner notification channels of the controller (controller.notifications): env. */}}
{{- define "agent-bridge.notifyEnv" -}}
{{- $n := .Values.controller.notifications }}
{{- if $n.webhook.url }}
- name: NOTIFY_WEBHOOK_URL
  value: {{ $n.webhook.url | quote }}
- name: NOTIFY_WEBHOOK_FORMAT
  value: {{ $n.webhook.format | quote }}
{{- if $n.webhook.existingSecret }}
- name: NOTIFY_WEBHOOK_TOKEN_FILE
  value: /etc/agent-bridge/notify-webhook/token
{{- end }}
{{- end }}
{{- if $n.smtp.url }}
{{- if not $n.smtp.from }}
{{- fail "controller.notifications.smtp.from must be set with smtp.url: the From of owner emails, such as \"Agent Bridge <bridge@example.com>\"" }}
{{- end }}
- name: SMTP_URL
  value: {{ $n.smtp.url | quote }}
- name: SMTP_FROM
  value: {{ $n.smtp.from | quote }}
- name: NOTIFY_EMAIL_HTML
  value: {{ $n.smtp.html | quote }}
{{- if $n.smtp.existingSecret }}
- name: SMTP_PASSWORD_FILE
  value: /etc/agent-bridge/notify-smtp/password
{{- end }}
{{- end }}
{{- end }}

{{/* The TCP port of a URL: its own, or its scheme's (https 443, http 80, smtps 465, smtp 587). */}}
{{- define "agent-bridge.urlPort" -}}
{{- $u := urlParse . }}
{{- $parts := splitList ":" $u.host }}
{{- if and (gt (len $parts) 1) (not (hasSuffix "]" $u.host)) }}{{ last $parts }}{{ else }}{{ get (dict "https" "443" "http" "80" "smtps" "465" "smtp" "587") $u.scheme }}{{ end }}
{{- end }}

{{/* The controller container (a sidecar of the router pods, or its own Deployment's). */}}
{{- define "agent-bridge.controllerContainer" -}}
{{- $c := .Values.controller }}
{{- $port := ternary "http-ctl" "http" (eq (include "agent-bridge.controllerSidecar" .) "true") -}}
- name: controller
  image: {{ include "agent-bridge.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["controller"]
  ports:
    - name: {{ $port }}
      containerPort: {{ $c.port }}
      protocol: TCP
    {{- if .Values.progressPage.enabled }}
    - name: progress
      containerPort: {{ .Values.progressPage.port }}
      protocol: TCP
    {{- end }}
  env:
    {{- include "agent-bridge.commonEnv" (list . $c) | trim | nindent 4 }}
    {{- include "agent-bridge.progressEnv" . | trim | nindent 4 }}
    - name: SOURCE
      value: kubernetes
    - name: KUBE_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: FEATURE_FLAGS_NAME
      value: {{ $c.featureFlagsName | quote }}
    # The Lease the Role allows (get/update by this name only).
    - name: KUBE_LEASE_NAME
      value: {{ $c.leaseName | quote }}
    {{- include "agent-bridge.relayEnv" (list . "controller" $c.port) | trim | nindent 4 }}
    - name: ADMIN_TOKEN_FILE
      value: /etc/agent-bridge/controller-tokens/admin-token
    - name: WEBHOOK_TOKEN_FILE
      value: /etc/agent-bridge/controller-tokens/webhook-token
    {{- if or .Values.legacyPoll.enabled .Values.elicitation.enabled }}
    # The agent registry the endpoints read: the legacy inventory lists its agents and owners.
    - name: AGENT_TOKENS_FILE
      value: /etc/agent-bridge/agent-tokens/agent-tokens.json
    {{- end }}
    {{- include "agent-bridge.notifyEnv" . | nindent 4 }}
    {{- if and .Values.elicitation.enabled (kindIs "invalid" (index (merge (dict) ($c.settings | default dict) (.Values.settings | default dict)) "ELICITATION_HEALTH_URLS")) }}
    # The health-check trigger (spec.rollback.healthCheck) probes the elicitation Service, besides
    # each replica the store knows: no ready pod behind it is a failed check.
    - name: ELICITATION_HEALTH_URLS
      value: {{ printf "http://%s:%v/readyz" (include "agent-bridge.componentName" (list . "elicitation")) .Values.elicitation.port | quote }}
    {{- end }}
    {{- if and .Values.elicitation.enabled (kindIs "invalid" (index (merge (dict) ($c.settings | default dict) (.Values.settings | default dict)) "ELICITATION_ENDPOINT_URL")) }}
    # Said in the owner notices of the deprecation schedule: where agents move to.
    - name: ELICITATION_ENDPOINT_URL
      value: {{ include "agent-bridge.elicitationEndpointUrl" . | quote }}
    {{- end }}
  {{- include "agent-bridge.probes" (list . $port) | trim | nindent 2 }}
  {{- include "agent-bridge.preStop" . | trim | nindent 2 }}
  resources:
    {{- toYaml $c.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    {{- include "agent-bridge.tmpMount" . | trim | nindent 4 }}
    - name: controller-tokens
      mountPath: /etc/agent-bridge/controller-tokens
      readOnly: true
    {{- if or .Values.legacyPoll.enabled .Values.elicitation.enabled }}
    - name: agent-tokens
      mountPath: /etc/agent-bridge/agent-tokens
      readOnly: true
    {{- end }}
    {{- if and .Values.progressPage.enabled .Values.progressPage.token.existingSecret }}
    - name: progress-token
      mountPath: /etc/agent-bridge/progress-token
      readOnly: true
    {{- end }}
    - name: kube-api-access
      mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      readOnly: true
    {{- with .Values.controller.notifications.webhook.existingSecret }}
    - name: notify-webhook
      mountPath: /etc/agent-bridge/notify-webhook
      readOnly: true
    {{- end }}
    {{- with .Values.controller.notifications.smtp.existingSecret }}
    - name: notify-smtp
      mountPath: /etc/agent-bridge/notify-smtp
      readOnly: true
    {{- end }}
{{- end }}

{{- /* The progress page's settings (progressPage): its own port, the Ingress path it is served
       under, and the Ingress as the one proxy in front of it (the client is the last
       X-Forwarded-For hop). */}}
{{- define "agent-bridge.progressEnv" -}}
{{- $p := .Values.progressPage -}}
- name: PROGRESS_ENABLED
  value: {{ $p.enabled | quote }}
{{- if $p.enabled }}
- name: PROGRESS_PORT
  value: {{ $p.port | quote }}
- name: PROGRESS_BASE_PATH
  value: {{ $p.path | quote }}
- name: PROGRESS_LOOKUP_ENABLED
  value: {{ $p.lookup | quote }}
- name: PROGRESS_FEEDBACK_ENABLED
  value: {{ $p.feedback | quote }}
- name: PROGRESS_TRUSTED_PROXY_HOPS
  value: {{ ternary "0" "1" (eq .Values.exposure "none") | quote }}
{{- with $p.migrationGuideUrl }}
- name: PROGRESS_MIGRATION_GUIDE_URL
  value: {{ . | quote }}
{{- end }}
{{- if $p.token.existingSecret }}
- name: PROGRESS_TOKEN_FILE
  value: /etc/agent-bridge/progress-token/progress-token
{{- end }}
{{- end }}
{{- end }}
