/* `otpgate send-test --email ADDR | --sms NUMBER` (SPEC §2): one test
 * message through the configured provider, and the provider's answer. */
#ifndef OTPGATE_CLI_SEND_TEST_H
#define OTPGATE_CLI_SEND_TEST_H

int cli_send_test_main(int argc, char **argv);

#endif
