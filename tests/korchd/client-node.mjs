// @kubernetes/client-node 1.4.0 against korchd: list, create, get (404), the three patch
// types, a watch and an informer. Prints one JSON object of what it saw; the Python test checks
// it. Run from the folder that holds node_modules (ESM resolves from the script's folder).
import * as k8s from '@kubernetes/client-node';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const kc = new k8s.KubeConfig();
kc.loadFromFile(process.argv[2]);
const core = kc.makeApiClient(k8s.CoreV1Api);
const ns = 'nodejs';
const out = {};

await core.createNamespace({ body: { metadata: { name: ns } } });
await core.createNamespacedConfigMap({
  namespace: ns,
  body: { metadata: { name: 'c1', labels: { app: 'x' } }, data: { a: '1' } },
});
try {
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c1' } } });
} catch (e) {
  out.exists = [e.code, JSON.parse(e.body).reason];
}
try {
  await core.readNamespacedConfigMap({ name: 'nope', namespace: ns });
} catch (e) {
  out.notFound = [e.code, JSON.parse(e.body).message];
}
const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app=x' });
out.list = list.items.map((i) => i.metadata.name);

await core.patchNamespacedConfigMap({
  name: 'c1', namespace: ns, body: [{ op: 'add', path: '/data/j', value: '1' }],
});
await core.patchNamespacedConfigMap(
  { name: 'c1', namespace: ns, body: { data: { m: '1' } } },
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
await core.patchNamespacedConfigMap(
  { name: 'c1', namespace: ns, body: { data: { s: '1' } } },
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch));
out.data = (await core.readNamespacedConfigMap({ name: 'c1', namespace: ns })).data;

const rv = (await core.listNamespacedConfigMap({ namespace: ns })).metadata.resourceVersion;
const events = [];
const watch = new k8s.Watch(kc);
const ctl = await watch.watch(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: rv },
  (type, obj) => events.push(`${type} ${obj.metadata.name}`), () => {});

const seen = [];
const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/configmaps`,
  () => core.listNamespacedConfigMap({ namespace: ns }));
informer.on('add', (o) => seen.push(`add ${o.metadata.name}`));
informer.on('update', (o) => seen.push(`update ${o.metadata.name} ${o.data.a}`));
informer.on('delete', (o) => seen.push(`delete ${o.metadata.name}`));
await informer.start();
await sleep(300);

await core.createNamespacedConfigMap({
  namespace: ns, body: { metadata: { name: 'c2' }, data: { a: '1' } },
});
await core.patchNamespacedConfigMap(
  { name: 'c2', namespace: ns, body: { data: { a: '2' } } },
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
await core.deleteNamespacedConfigMap({ name: 'c2', namespace: ns });
await sleep(1500);
ctl.abort();
await informer.stop();
out.watch = events;
out.informer = seen;
console.log(JSON.stringify(out));
