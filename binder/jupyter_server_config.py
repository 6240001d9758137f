"""Jupyter server settings for Softmax Lab on Binder and on a JupyterHub built from binder/.

binder/postBuild copies this file into the environment's own config directory
(``<sys.prefix>/etc/jupyter``), which repo2docker leaves outside the user's home, so it also applies
on a hub whose persistent home volumes hide ``~/.jupyter``. tests/hub and benchmarks/student_memory.py
load it from here (``JUPYTER_CONFIG_PATH=binder``). See classroom/jupyterhub.md for the figures.
"""

from importlib.metadata import entry_points

c = get_config()  # noqa: F821  (Jupyter provides get_config when it loads this file)

# Kernel culling. A notebook's kernel keeps its memory long after its last cell ran (a TensorFlow
# notebook's, forked from the zygote below, 140 to 260 MB of PSS; 390 to 500 MB started the ordinary
# way), and students leave every notebook open.
# A kernel idle (nothing executed, no widget touched) for 3 minutes is shut down at the next check
# (every minute), even with its tab still open (cull_connected: students never close tabs); a busy
# kernel (a long training) is never culled. So a student who spends 4 minutes or more on each
# notebook never has more than two kernels: the previous one is gone before the next-but-one starts
# (benchmarks/student_memory.py, classroom/jupyterhub.md). JupyterLab then shows the notebook
# without a kernel; Run All starts a new one.
c.MappingKernelManager.cull_idle_timeout = 180
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = True
c.MappingKernelManager.cull_busy = False

# Kernels are forked from one process that has imported TensorFlow, Keras, SciPy, scikit-learn and
# matplotlib once (lab_utils/kernel_zygote.py): they share those pages instead of holding about
# 400 MB each, and start in a fraction of a second (classroom/jupyterhub.md has the figures).
# Any other kernel, or a zygote that fails, is started the ordinary way; and so is every kernel where
# lab_utils (which registers the provisioner) is not installed, instead of none starting at all.
if any(
    entry.name == "softmax-lab-zygote"
    for entry in entry_points(group="jupyter_client.kernel_provisioners")
):
    c.KernelProvisionerFactory.default_provisioner_name = "softmax-lab-zygote"

# jupyter-resource-usage: the server's and its kernels' memory in JupyterLab's status bar, against
# the limit when the hub or Binder sets one (MEM_LIMIT, as mybinder.org and KubeSpawner do).
c.ResourceUseDisplay.track_cpu_percent = False
