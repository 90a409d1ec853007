#!/usr/bin/python3
"""korchctl gitops add|sync|status|suspend|resume|diff on a state file, with real repositories
made by the git command in a temporary folder: the commands' exact output, an edit made with
korchctl put back by the next sync, and their errors."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

KORCHCTL = os.environ["KORCHCTL"]
GIT = shutil.which("git")

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s
"""

CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: %s\n"


@unittest.skipIf(GIT is None, "needs the git command (scripts/deps.sh installs it)")
class Gitops(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="korch-test-gitops-cli-")
        self.state = os.path.join(self.dir, "state.db")
        self.repo = os.path.join(self.dir, "repo")
        self.git("init", "-q", "-b", "main", self.repo, cwd=self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def git(self, *args, cwd=None):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@korch.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@korch.invalid",
                   GIT_CONFIG_NOSYSTEM="1", HOME=self.dir)
        p = subprocess.run([GIT] + list(args), cwd=cwd or self.repo, capture_output=True,
                           text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def commit(self, files, message="change"):
        for name, text in files.items():
            path = os.path.join(self.repo, name)
            if text is None:
                os.remove(path)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def run_ctl(self, *args):
        env = dict(os.environ)
        env.pop("KORCH_STATE", None)
        p = subprocess.run([KORCHCTL, "--state", self.state] + list(args), capture_output=True,
                           text=True, env=env, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args):
        rc, out, err = self.run_ctl(*args)
        self.assertEqual(rc, 0, f"korchctl {' '.join(args)} failed: {err}")
        return out

    def test_add_sync_status(self):
        sha = self.commit({"deploy/web.yaml": WEB % "registry.example/web:1",
                           "deploy/config.yaml": CONFIG % "blue"})
        self.assertEqual(self.ok("gitops", "add", "apps", "--url", self.repo, "--path", "deploy/",
                                 "--interval", "5m"),
                         "gitrepository.gitops.korch.io/apps created\n")
        self.assertEqual(self.ok("gitops", "add", "apps", "--url", self.repo, "--path", "deploy/",
                                 "--interval", "5m"),
                         "gitrepository.gitops.korch.io/apps unchanged\n")
        out = self.ok("gitops", "sync", "apps")
        self.assertEqual(out, "gitrepository.gitops.korch.io/apps synced: Applied revision "
                              f"main@sha1:{sha}; Deployment default/web: 0 of 1 replicas "
                              "available\n")
        self.assertEqual(self.ok("get", "configmap", "settings", "-o",
                                 "jsonpath={.metadata.labels.gitops\\.korch\\.io/name}"), "apps")
        lines = self.ok("gitops", "status").splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "COMMIT", "AGE", "OBJECTS", "HEALTH", "READY"])
        row = lines[1].split()
        self.assertEqual(row[0:2], ["apps", sha[:12]])
        self.assertRegex(row[2], r"^[0-9]+s$")
        self.assertEqual(row[3:], ["2", "Progressing", "Unknown"])
        detail = self.ok("gitops", "status", "apps")
        self.assertIn(f"Commit:       {sha} (applied ", detail)
        self.assertIn("Health:       Unknown Progressing: Deployment default/web: 0 of 1 "
                      "replicas available\n", detail)
        self.assertIn("Objects:      2\n  v1 ConfigMap default/settings\n"
                      "  apps/v1 Deployment default/web\n", detail)
        table = self.ok("get", "gitrepositories").splitlines()
        self.assertEqual(table[0].split(), ["NAME", "URL", "READY", "STATUS", "AGE"])
        self.assertTrue(table[1].startswith(f"apps   {self.repo}   Unknown   Applied revision "))

    def test_edit_with_korchctl_is_put_back(self):
        self.commit({"deploy/web.yaml": WEB % "registry.example/web:1"})
        self.ok("gitops", "add", "apps", "--url", self.repo, "--path", "deploy")
        self.ok("gitops", "sync", "apps")
        self.ok("patch", "deployment", "web", "-p",
                '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"evil:2"}]}}}}')
        rc, out, err = self.run_ctl("gitops", "diff", "apps")
        self.assertEqual(rc, 1, err)
        self.assertIn("~ configure deployment.apps default/web (deploy/web.yaml:1)\n"
                      "    spec.template.spec.containers[0].image: \"evil:2\" -> "
                      "\"registry.example/web:1\"\n0 unchanged\n", out)
        self.ok("gitops", "sync", "apps")
        self.assertEqual(self.ok("get", "deployment", "web", "-o",
                                 "jsonpath={.spec.template.spec.containers[0].image}"),
                         "registry.example/web:1")
        rc, out, err = self.run_ctl("gitops", "diff", "apps")
        self.assertEqual((rc, out.splitlines()[1:]), (0, ["1 unchanged"]))
        events = self.ok("get", "events")
        self.assertIn("DriftCorrected   gitrepository/apps   Put back what changed outside git: "
                      "deployment.apps default/web", events)

    def test_diff_new_commit_and_prune(self):
        self.commit({"deploy/web.yaml": WEB % "registry.example/web:1",
                     "deploy/config.yaml": CONFIG % "blue"})
        self.ok("gitops", "add", "apps", "--url", self.repo, "--path", "deploy")
        self.ok("gitops", "sync", "apps")
        sha = self.commit({"deploy/config.yaml": None, "deploy/web.yaml":
                           WEB % "registry.example/web:2"})
        rc, out, err = self.run_ctl("gitops", "diff", "apps")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out,
                         f"revision main@sha1:{sha}\n"
                         "~ configure deployment.apps default/web (deploy/web.yaml:1)\n"
                         "    spec.template.spec.containers[0].image: \"registry.example/web:1\""
                         " -> \"registry.example/web:2\"\n"
                         "- prune configmap default/settings\n"
                         "0 unchanged\n")
        self.ok("gitops", "sync", "apps")
        rc, out, err = self.run_ctl("get", "configmap", "settings")
        self.assertEqual(rc, 1)

    def test_suspend_resume_tag(self):
        sha = self.commit({"app.yaml": CONFIG % "blue"})
        self.git("tag", "v1.0")
        self.commit({"app.yaml": CONFIG % "green"})
        self.assertEqual(self.ok("gitops", "add", "apps", "--url", "file://" + self.repo,
                                 "--ref", "refs/tags/v1.0"),
                         "gitrepository.gitops.korch.io/apps created\n")
        self.assertEqual(self.ok("gitops", "suspend", "apps"),
                         "gitrepository.gitops.korch.io/apps suspended\n")
        rc, out, err = self.run_ctl("gitops", "sync", "apps")
        self.assertEqual((rc, err), (1, "error: gitrepository default/apps is suspended: "
                                        "resume it to sync\n"))
        self.assertEqual(self.ok("gitops", "resume", "apps"),
                         "gitrepository.gitops.korch.io/apps resumed\n")
        self.assertEqual(self.ok("gitops", "sync", "apps"),
                         f"gitrepository.gitops.korch.io/apps synced: Applied revision "
                         f"v1.0@sha1:{sha}\n")
        self.assertEqual(self.ok("get", "configmap", "settings", "-o", "jsonpath={.data.color}"),
                         "blue")
        self.assertIn("Ref:          tag v1.0\n", self.ok("gitops", "status", "apps"))

    def test_errors(self):
        rc, out, err = self.run_ctl("gitops", "sync", "nope")
        self.assertEqual((rc, err), (1, 'error: gitrepositories.gitops.korch.io "nope" not '
                                        "found\n"))
        rc, out, err = self.run_ctl("gitops", "add", "apps")
        self.assertEqual((rc, err), (1, "error: gitops add needs a NAME and --url URL\n"))
        rc, out, err = self.run_ctl("gitops", "add", "apps", "--url", "relative/path")
        self.assertEqual(rc, 1)
        self.assertEqual(err, 'error: GitRepository.gitops.korch.io "apps" is invalid: spec.url: '
                              'Invalid value: "relative/path": must be an absolute path, a '
                              "file://, http://, https://, ssh:// or git:// URL, or "
                              "user@host:path\n")
        rc, out, err = self.run_ctl("gitops", "frobnicate")
        self.assertEqual((rc, err), (1, 'error: unknown command "frobnicate" for "korchctl '
                                        'gitops"\n'))
        self.commit({"deploy/bad.yaml": "kind: ConfigMap\nmetadata: {name: x\n"})
        self.ok("gitops", "add", "apps", "--url", self.repo, "--path", "deploy")
        rc, out, err = self.run_ctl("gitops", "sync", "apps")
        self.assertEqual(rc, 1)
        bad = ("deploy/bad.yaml:3:1: did not find expected ',' or '}' (while parsing a flow "
               "mapping at line 2)")
        self.assertEqual(err, "error: " + bad + "\n")
        rc, out, err = self.run_ctl("gitops", "diff", "apps")
        self.assertEqual((rc, err), (2, "error: " + bad + "\n"))
        self.assertIn("Ready:        False ManifestInvalid: " + bad + "\n",
                      self.ok("gitops", "status", "apps"))
        # A repository that is not there.
        self.ok("gitops", "add", "gone", "--url", self.dir + "/gone")
        rc, out, err = self.run_ctl("gitops", "sync", "gone")
        self.assertEqual((rc, err), (1, "error: fetch %s/gone: No such file or directory\n"
                                        % self.dir))


if __name__ == "__main__":
    unittest.main()
