import COpenBLAS
func _blasLinkCheck() { openblas_set_num_threads(1) }
