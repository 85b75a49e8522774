/* SPDX-License-Identifier: GPL-2.0 */
/*
 * commands.h -- the commands of ccidctl (validate, apply, reload, gadget,
 * status);
 * argv[0] is the command name.
 */
#ifndef CCIDCTL_COMMANDS_H
#define CCIDCTL_COMMANDS_H

int cmd_validate(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_gadget(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif /* CCIDCTL_COMMANDS_H */
