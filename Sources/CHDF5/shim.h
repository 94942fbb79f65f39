#include <hdf5.h>
// zlib: HDF5's deflate filter format, for chunks that Storage compresses itself.
#include <zlib.h>

// HDF5's type and property-list ids are macros that call H5open(); Swift cannot import them.
static inline hid_t lstm_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t lstm_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t lstm_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t lstm_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t lstm_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t lstm_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline unsigned lstm_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned lstm_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned lstm_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline hid_t lstm_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t lstm_h5p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t lstm_h5p_file_create(void) { return H5P_FILE_CREATE; }
static inline size_t lstm_h5t_variable(void) { return H5T_VARIABLE; }
