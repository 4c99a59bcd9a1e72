"""Writers: the results of an export as files (Parquet, CSV, Excel, dak2.xlsx, manifest.json).

`export_files.ExportWriter` is the one writer of an export's files, for both export paths: it
masks each part's tables once (under `--mask`) and hands the same tables to every writer; each
writer returns the files it wrote, and the manifest lists them with checksums.
"""
