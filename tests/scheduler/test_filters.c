/*
 * Every filter of the default profile, end to end: nodes, pods already placed and a pending pod
 * go into a store, the scheduler runs, and the pod lands on the expected node or carries
 * exactly Kubernetes 1.32's Unschedulable message (filter reasons counted and sorted, then the
 * preemption part).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "harness.h"

/* A Ready node with 4 cpu, 8Gi, 110 pods; labels and a spec in YAML flow style. */
#define NODE_SPEC(name, labels, spec)                                                    \
	"apiVersion: v1\nkind: Node\nmetadata: {name: " name ", labels: " labels "}\n"   \
	"spec: " spec "\nstatus:\n  capacity: {cpu: \"4\", memory: 8Gi, pods: \"110\", " \
	"ephemeral-storage: 10Gi, example.com/gpu: \"1\"}\n"                             \
	"  conditions: [{type: Ready, status: \"True\"}]\n---\n"
#define NODE(name, labels) NODE_SPEC(name, labels, "{}")

/* A pod already running on a node. */
#define PLACED(name, labels, node, containers)                                \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: " name                   \
	", namespace: default, labels: " labels "}\nspec:\n  nodeName: " node \
	"\n  containers: " containers "\n---\n"

#define C_SMALL "[{name: c, image: busybox}]"
#define C_CPU(q) "[{name: c, image: busybox, resources: {requests: {cpu: \"" q "\"}}}]"

/* The pending pod "p" with a spec body (indented by 2). */
#define PENDING(labels, body)                                                                \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default, labels: " labels \
	"}\nspec:\n" body

struct fcase {
	const char *name;
	const char *objects;   /* nodes, placed pods, claims, volumes: YAML documents */
	const char *pod;       /* the pending pod "p" */
	const char *want_node; /* the node it must land on, or NULL */
	const char *want_msg;  /* otherwise its PodScheduled=False message */
};

#define NOT_HELPFUL(n) \
	"preemption: 0/" #n " nodes are available: " #n " Preemption is not helpful for scheduling."

static const struct fcase cases[] = {
	/* NodeUnschedulable */
	{ "unschedulable node", NODE_SPEC("n1", "{}", "{unschedulable: true}"),
	  PENDING("{}", "  containers: " C_SMALL "\n"), NULL,
	  "0/1 nodes are available: 1 node(s) were unschedulable. " NOT_HELPFUL(1) },
	{ "unschedulable node tolerated", NODE_SPEC("n1", "{}", "{unschedulable: true}"),
	  PENDING("{}", "  containers: " C_SMALL "\n"
			"  tolerations: [{key: node.kubernetes.io/unschedulable, operator: Exists, "
			"effect: NoSchedule}]\n"),
	  "n1", NULL },
	/* TaintToleration, and the conditions as taints */
	{ "NoSchedule and NoExecute taints",
	  NODE_SPEC("n1", "{}", "{taints: [{key: a, value: x, effect: NoSchedule}]}")
		  NODE_SPEC("n2", "{}", "{taints: [{key: b, effect: NoExecute}]}") NODE_SPEC(
			  "n3", "{}", "{taints: [{key: c, value: why, effect: PreferNoSchedule}]}"),
	  PENDING("{}", "  containers: " C_SMALL "\n"), "n3", NULL },
	{ "untolerated taints counted per taint",
	  NODE_SPEC("n1", "{}", "{taints: [{key: a, value: x, effect: NoSchedule}]}")
		  NODE_SPEC("n2", "{}", "{taints: [{key: a, value: x, effect: NoSchedule}]}")
			  NODE_SPEC("n3", "{}", "{taints: [{key: b, effect: NoExecute}]}"),
	  PENDING("{}", "  containers: " C_SMALL "\n"), NULL,
	  "0/3 nodes are available: 1 node(s) had untolerated taint {b: }, 2 node(s) had "
	  "untolerated taint {a: x}. " NOT_HELPFUL(3) },
	{ "tolerations: Equal, Exists and any effect",
	  NODE_SPEC(
		  "n1", "{}",
		  "{taints: [{key: a, value: x, effect: NoSchedule}, {key: b, effect: NoExecute}]}"),
	  PENDING("{}", "  containers: " C_SMALL "\n"
			"  tolerations: [{key: a, operator: Equal, value: x, effect: NoSchedule}, "
			"{key: b, operator: Exists}]\n"),
	  "n1", NULL },
	{ "a toleration of another value does not count",
	  NODE_SPEC("n1", "{}", "{taints: [{key: a, value: x, effect: NoSchedule}]}"),
	  PENDING("{}", "  containers: " C_SMALL "\n"
			"  tolerations: [{key: a, operator: Equal, value: z}]\n"),
	  NULL,
	  "0/1 nodes are available: 1 node(s) had untolerated taint {a: x}. " NOT_HELPFUL(1) },
	{ "not Ready, unreachable and under pressure",
	  "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  capacity: {cpu: \"4\", "
	  "memory: 8Gi, pods: \"110\"}\n  conditions: [{type: Ready, status: \"False\"}]\n---\n"
	  "apiVersion: v1\nkind: Node\nmetadata: {name: n2}\nstatus:\n  capacity: {cpu: \"4\", "
	  "memory: 8Gi, pods: \"110\"}\n  conditions: [{type: Ready, status: Unknown}]\n---\n"
	  "apiVersion: v1\nkind: Node\nmetadata: {name: n3}\nstatus:\n  capacity: {cpu: \"4\", "
	  "memory: 8Gi, pods: \"110\"}\n  conditions: [{type: Ready, status: \"True\"}, "
	  "{type: DiskPressure, status: \"True\"}]\n---\n",
	  PENDING("{}", "  containers: " C_SMALL "\n"), NULL,
	  "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/"
	  "disk-pressure: }, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
	  "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. " NOT_HELPFUL(3) },
	/* NodeResourcesFit */
	{ "insufficient cpu, memory, ephemeral storage, extended resource", NODE("n1", "{}"),
	  PENDING("{}",
		  "  containers: [{name: c, image: busybox, resources: {requests: {cpu: \"5\", "
		  "memory: 9Gi, ephemeral-storage: 11Gi, example.com/gpu: \"2\"}, limits: "
		  "{example.com/gpu: \"2\"}}}]\n"),
	  NULL,
	  "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient ephemeral-storage, 1 "
	  "Insufficient example.com/gpu, 1 Insufficient memory. preemption: 0/1 nodes are "
	  "available: 1 No preemption victims found for incoming pod." },
	{ "too many pods",
	  "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  capacity: {cpu: \"4\", "
	  "memory: 8Gi, pods: \"1\"}\n  conditions: [{type: Ready, status: \"True\"}]\n---\n" PLACED(
		  "q", "{}", "n1", C_SMALL),
	  PENDING("{}", "  containers: " C_SMALL "\n"), NULL,
	  "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No "
	  "preemption victims found for incoming pod." },
	{ "requests add up with the pods already there",
	  NODE("n1", "{}") NODE("n2", "{}") PLACED("a", "{}", "n1", C_CPU("3")),
	  PENDING("{}", "  containers: " C_CPU("2") "\n"), "n2", NULL },
	{ "init containers: the largest one, not the sum", NODE("n1", "{}"),
	  PENDING("{}",
		  "  initContainers: [{name: i1, image: busybox, resources: {requests: {cpu: "
		  "\"3\"}}}, {name: i2, image: busybox, resources: {requests: {cpu: \"3\"}}}]\n"
		  "  containers: " C_CPU("1") "\n"),
	  "n1", NULL },
	{ "init containers: the largest one counts", NODE("n1", "{}"),
	  PENDING("{}", "  initContainers: [{name: i1, image: busybox, resources: {requests: {cpu: "
			"\"4500m\"}}}]\n  containers: " C_CPU("1") "\n"),
	  NULL,
	  "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No "
	  "preemption victims found for incoming pod." },
	{ "sidecars add to the app containers and to later init containers", NODE("n1", "{}"),
	  PENDING("{}",
		  "  initContainers: [{name: sc, image: busybox, restartPolicy: Always, "
		  "resources: {requests: {cpu: \"2\"}}}, {name: i2, image: busybox, resources: "
		  "{requests: {cpu: \"1\"}}}]\n  containers: " C_CPU("2500m") "\n"),
	  NULL,
	  "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No "
	  "preemption victims found for incoming pod." },
	/* NodeSelector and NodeAffinity */
	{ "nodeSelector", NODE("n1", "{disk: hdd}") NODE("n2", "{disk: ssd}"),
	  PENDING("{}", "  nodeSelector: {disk: ssd}\n  containers: " C_SMALL "\n"), "n2", NULL },
	{ "nodeSelector matching nothing", NODE("n1", "{disk: hdd}") NODE("n2", "{}"),
	  PENDING("{}", "  nodeSelector: {disk: ssd}\n  containers: " C_SMALL "\n"), NULL,
	  "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. " NOT_HELPFUL(
		  2) },
	{ "affinity In and NotIn",
	  NODE("n1", "{zone: a}") NODE("n2", "{zone: b}") NODE("n3", "{zone: c}"),
	  PENDING("{}",
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "{nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: "
		  "[a, b]}, {key: zone, operator: NotIn, values: [a]}]}]}}}\n"
		  "  containers: " C_SMALL "\n"),
	  "n2", NULL },
	{ "affinity Exists and DoesNotExist", NODE("n1", "{gpu: \"yes\"}") NODE("n2", "{}"),
	  PENDING("{}",
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "{nodeSelectorTerms: [{matchExpressions: [{key: gpu, operator: DoesNotExist}]}]}}}\n"
		  "  containers: " C_SMALL "\n"),
	  "n2", NULL },
	{ "affinity Gt and Lt",
	  NODE("n1", "{cores: \"8\"}") NODE("n2", "{cores: \"32\"}") NODE("n3", "{cores: many}"),
	  PENDING("{}",
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "{nodeSelectorTerms: [{matchExpressions: [{key: cores, operator: Gt, values: "
		  "[\"16\"]}, {key: cores, operator: Lt, values: [\"64\"]}]}]}}}\n"
		  "  containers: " C_SMALL "\n"),
	  "n2", NULL },
	{ "terms are ORed", NODE("n1", "{a: \"1\"}") NODE("n2", "{b: \"1\"}"),
	  PENDING("{}",
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "{nodeSelectorTerms: [{matchExpressions: [{key: c, operator: Exists}]}, "
		  "{matchExpressions: [{key: b, operator: Exists}]}]}}}\n"
		  "  containers: " C_SMALL "\n"),
	  "n2", NULL },
	{ "matchFields name the nodes considered",
	  NODE("n1", "{}") NODE("n2", "{}") NODE("n3", "{}") PLACED("a", "{}", "n2", C_CPU("4")),
	  PENDING("{}",
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "{nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: "
		  "[n2]}]}]}}}\n  containers: " C_CPU("1") "\n"),
	  NULL,
	  "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) "
	  "[NodeAffinity]. preemption: 0/3 nodes are available: 1 No preemption victims found for "
	  "incoming pod, 2 Preemption is not helpful for scheduling." },
	{ "matchFields naming no node at all", NODE("n1", "{}"),
	  PENDING("{}",
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "{nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: "
		  "[n9]}]}]}}}\n  containers: " C_SMALL "\n"),
	  NULL,
	  "0/1 nodes are available: 1 node(s) didn't satisfy plugin(s) [NodeAffinity]. " NOT_HELPFUL(
		  1) },
	/* NodePorts */
	{ "host port taken",
	  NODE("n1", "{}") NODE("n2", "{}") PLACED(
		  "a", "{}", "n1",
		  "[{name: c, image: busybox, ports: [{containerPort: 80, hostPort: 8080}]}]"),
	  PENDING("{}", "  containers: [{name: c, image: busybox, ports: [{containerPort: 80, "
			"hostPort: 8080}]}]\n"),
	  "n2", NULL },
	{ "host port taken everywhere; another protocol is free",
	  NODE("n1", "{}") PLACED(
		  "a", "{}", "n1",
		  "[{name: c, image: busybox, ports: [{containerPort: 80, hostPort: 8080, hostIP: 10.0.0.1}]}]"),
	  PENDING("{}", "  containers: [{name: c, image: busybox, ports: [{containerPort: 80, "
			"hostPort: 8080}, {containerPort: 81, hostPort: 8081, protocol: UDP}]}]\n"),
	  NULL,
	  "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. "
	  "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod." },
	/* InterPodAffinity */
	{ "pod affinity by zone",
	  NODE("n1", "{topology.kubernetes.io/zone: a, pick: me}")
		  NODE("n2", "{topology.kubernetes.io/zone: b, pick: me}")
			  NODE("n3", "{topology.kubernetes.io/zone: b}")
				  PLACED("db", "{app: db}", "n3", C_SMALL),
	  PENDING("{}",
		  "  affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "[{labelSelector: {matchLabels: {app: db}}, topologyKey: topology.kubernetes.io/zone}]}}\n"
		  "  nodeSelector: {pick: me}\n  containers: " C_SMALL "\n"),
	  "n2", NULL },
	{ "pod affinity unmet",
	  NODE("n1", "{topology.kubernetes.io/zone: a}") NODE("n2", "{}")
		  PLACED("db", "{app: db}", "n1", C_SMALL) PLACED("x", "{app: x}", "n2", C_SMALL),
	  PENDING("{}",
		  "  affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "[{labelSelector: {matchLabels: {app: web}}, topologyKey: topology.kubernetes.io/zone}]}}\n"
		  "  containers: " C_SMALL "\n"),
	  NULL,
	  "0/2 nodes are available: 2 node(s) didn't match pod affinity rules. " NOT_HELPFUL(2) },
	{ "pod anti-affinity",
	  NODE("n1", "{kubernetes.io/hostname: n1}") NODE("n2", "{kubernetes.io/hostname: n2}")
		  PLACED("w1", "{app: web}", "n1", C_SMALL)
			  PLACED("w2", "{app: web}", "n2", C_SMALL),
	  PENDING("{app: web}",
		  "  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		  "[{labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}]}}\n"
		  "  containers: " C_SMALL "\n"),
	  NULL,
	  "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: "
	  "0/2 nodes are available: 2 No preemption victims found for incoming pod." },
	{ "existing pods' anti-affinity",
	  NODE("n1", "{kubernetes.io/hostname: n1}") NODE(
		  "n2",
		  "{kubernetes.io/hostname: n2}") "apiVersion: v1\nkind: Pod\nmetadata: {name: lonely, namespace: default}\nspec:\n"
						  "  nodeName: n1\n  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
						  "[{labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}]}}\n"
						  "  containers: " C_SMALL
						  "\n---\n" PLACED("other", "{}", "n2", C_CPU("4")),
	  PENDING("{app: web}", "  containers: " C_CPU("1") "\n"), NULL,
	  "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't satisfy existing pods "
	  "anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption victims found "
	  "for incoming pod." },
	/* PodTopologySpread */
	{ "topology spread: the skew",
	  NODE("n1", "{zone: a}") NODE("n2", "{zone: b}") PLACED("w1", "{app: web}", "n1", C_SMALL),
	  PENDING("{app: web}",
		  "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, "
		  "whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}]\n"
		  "  containers: " C_SMALL "\n"),
	  "n2", NULL },
	{ "topology spread: the label missing, and the skew",
	  NODE("n1", "{zone: a}") NODE("n2", "{zone: b}") NODE_SPEC("n3", "{}", "{}")
		  PLACED("w1", "{app: web}", "n1", C_SMALL) PLACED("x", "{}", "n2", C_CPU("4")),
	  PENDING("{app: web}",
		  "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, "
		  "whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}]\n"
		  "  containers: " C_CPU("1") "\n"),
	  NULL,
	  "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread "
	  "constraints, 1 node(s) didn't match pod topology spread constraints (missing required "
	  "label). preemption: 0/3 nodes are available: 1 Preemption is not helpful for "
	  "scheduling, 2 No preemption victims found for incoming pod." },
	{ "topology spread: minDomains counts missing domains as empty",
	  NODE("n1", "{zone: a}") NODE("n2", "{zone: b}") PLACED("w1", "{app: web}", "n1", C_SMALL)
		  PLACED("w2", "{app: web}", "n2", C_SMALL),
	  PENDING("{app: web}",
		  "  topologySpreadConstraints: [{maxSkew: 1, minDomains: 3, "
		  "topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: "
		  "{matchLabels: {app: web}}}]\n  containers: " C_SMALL "\n"),
	  NULL,
	  "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints. "
	  "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod." },
	{ "topology spread: nodeAffinityPolicy Honor leaves the other nodes out",
	  NODE("n1", "{zone: a, pool: px}") NODE("n2", "{zone: b, pool: py}")
		  PLACED("w1", "{app: web}", "n1", C_SMALL),
	  PENDING("{app: web}",
		  "  nodeSelector: {pool: px}\n  topologySpreadConstraints: [{maxSkew: "
		  "1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: "
		  "{matchLabels: {app: web}}}]\n  containers: " C_SMALL "\n"),
	  "n1", NULL },
	/* VolumeRestrictions and VolumeBinding */
	{ "claim not found", NODE("n1", "{}") NODE("n2", "{}"),
	  PENDING("{}", "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
			"  containers: " C_SMALL "\n"),
	  NULL,
	  "0/2 nodes are available: persistentvolumeclaim \"data\" not found. " NOT_HELPFUL(2) },
	{ "unbound immediate claim",
	  NODE("n1",
	       "{}") "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n"
		     "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\n",
	  PENDING("{}", "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
			"  containers: " C_SMALL "\n"),
	  NULL,
	  "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. " NOT_HELPFUL(
		  1) },
	{ "ReadWriteOnce claim mounted on another node",
	  NODE("n1", "{}") NODE(
		  "n2",
		  "{}") "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n"
			"spec: {accessModes: [ReadWriteOnce], volumeName: pv1, resources: {requests: {storage: 1Gi}}}\n"
			"status: {phase: Bound}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\n"
			"spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /tmp/pv1}, "
			"claimRef: {namespace: default, name: data}}\n---\n"
			"apiVersion: v1\nkind: Pod\nmetadata: {name: user, namespace: default}\nspec:\n  nodeName: n2\n"
			"  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n  containers: " C_SMALL
			"\n---\n",
	  PENDING("{}", "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
			"  containers: " C_SMALL "\n"),
	  "n2", NULL },
	{ "ReadWriteOncePod claim in use",
	  NODE("n1",
	       "{}") "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n"
		     "spec: {accessModes: [ReadWriteOncePod], volumeName: pv1, resources: {requests: {storage: 1Gi}}}\n"
		     "status: {phase: Bound}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\nspec: {capacity: "
		     "{storage: 1Gi}, accessModes: [ReadWriteOncePod], hostPath: {path: /tmp/pv1}, claimRef: "
		     "{namespace: default, name: data}}\n---\n"
		     "apiVersion: v1\nkind: Pod\nmetadata: {name: user, namespace: default}\nspec:\n  nodeName: n1\n"
		     "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n  containers: " C_SMALL
		     "\n---\n",
	  PENDING("{}", "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
			"  containers: " C_SMALL "\n"),
	  NULL,
	  "0/1 nodes are available: 1 node has pod using PersistentVolumeClaim with the same name "
	  "and ReadWriteOncePod access mode. preemption: 0/1 nodes are available: 1 No preemption "
	  "victims found for incoming pod." },
	{ "local volume's node affinity",
	  NODE("n1", "{kubernetes.io/hostname: n1}") NODE(
		  "n2", "{kubernetes.io/hostname: n2}") NODE("n3", "{kubernetes.io/hostname: n3}")
		  PLACED("a", "{}", "n2",
			 C_CPU("4")) "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n"
				     "spec: {accessModes: [ReadWriteOnce], volumeName: pv1, resources: {requests: {storage: 1Gi}}}\n"
				     "status: {phase: Bound}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\n"
				     "spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], local: {path: /mnt/d}, "
				     "claimRef: {namespace: default, name: data}, nodeAffinity: {required: {nodeSelectorTerms: "
				     "[{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [n2]}]}]}}}\n---\n",
	  PENDING("{}", "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
			"  containers: " C_CPU("1") "\n"),
	  NULL,
	  "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) "
	  "[VolumeBinding]. preemption: 0/3 nodes are available: 1 No preemption victims found "
	  "for incoming pod, 2 Preemption is not helpful for scheduling." },
	{ "volume node affinity by zone",
	  NODE("n1", "{zone: a}") NODE(
		  "n2",
		  "{zone: b}") "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n"
			       "spec: {accessModes: [ReadWriteOnce], volumeName: pv1, resources: {requests: {storage: 1Gi}}}\n"
			       "status: {phase: Bound}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\n"
			       "spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], local: {path: /mnt/d}, "
			       "claimRef: {namespace: default, name: data}, nodeAffinity: {required: {nodeSelectorTerms: "
			       "[{matchExpressions: [{key: zone, operator: In, values: [c]}]}]}}}\n---\n",
	  PENDING("{}", "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
			"  containers: " C_SMALL "\n"),
	  NULL,
	  "0/2 nodes are available: 2 node(s) had volume node affinity conflict. " NOT_HELPFUL(2) },
	{ "volume zone label",
	  NODE("n1", "{topology.kubernetes.io/zone: a}") NODE(
		  "n2",
		  "{topology.kubernetes.io/zone: b}") "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n"
						      "spec: {accessModes: [ReadWriteOnce], volumeName: pv1, resources: {requests: {storage: 1Gi}}}\n"
						      "status: {phase: Bound}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1, "
						      "labels: {topology.kubernetes.io/zone: b}}\nspec: {capacity: {storage: 1Gi}, accessModes: "
						      "[ReadWriteOnce], hostPath: {path: /tmp/pv1}, claimRef: {namespace: default, name: data}}\n---\n",
	  PENDING("{}", "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
			"  containers: " C_SMALL "\n"),
	  "n2", NULL },
};

static void
run_case(const struct fcase *fc)
{
	struct env e;
	env_init(&e);
	env_apply(&e, fc->objects);
	env_start(&e, NULL);
	env_apply(&e, fc->pod);
	env_pump(&e);
	const char *node = env_pod_node(&e, "p");
	if (fc->want_node || !fc->want_msg) {
		const char *msg = env_pod_message(&e, "p");
		if (fc->want_node && strcmp(node, fc->want_node) != 0)
			fail_msg("%s: on \"%s\", not %s (%s)", fc->name, node, fc->want_node, msg);
		if (!fc->want_node && !fc->want_msg && !*node)
			fail_msg("%s: not scheduled (%s)", fc->name, msg);
	} else {
		const char *msg = env_pod_message(&e, "p");
		if (*node || strcmp(msg, fc->want_msg) != 0)
			fail_msg("%s: node \"%s\", message\n  \"%s\", want\n  \"%s\"", fc->name,
				 node, msg, fc->want_msg);
	}
	env_fini(&e);
}

static void
test_filters(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_filters) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
