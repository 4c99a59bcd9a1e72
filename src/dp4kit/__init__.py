"""dp4kit: prepare Indonesian SIAK population data for elections (DP4, DAK2)."""

import warnings

__version__ = "0.1.0"

# With dp4kit[spark] installed, pandera tries to import pyspark.pandas (which does not support
# pandas 3 yet) at every schema and warns each time; dp4kit never uses pyspark.pandas.
warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
