"""IPython kernel settings for Softmax Lab on Binder and on a JupyterHub built from binder/.

binder/postBuild copies this file into ``<sys.prefix>/etc/ipython``, which IPython reads for every
kernel of the environment (outside the home a hub mounts over ``~/.ipython``).
"""

c = get_config()  # noqa: F821  (IPython provides get_config when it loads this file)

# After every cell, hand the memory it freed back to the system (see lab_utils/kernel_memory.py).
c.InteractiveShellApp.extensions = ["lab_utils.kernel_memory"]
