/* ctl_admin.c: placeholder */
