*** Settings ***
Documentation       Three NUCLEO-F446RE boards (boards/renode/vehicle_f446re.resc)
...                 on a Renode CAN hub at 500 kbit/s classic CAN: every board
...                 boots the frozen key agent, the master rekeys both slaves
...                 with key material from the emulated optical module, and
...                 SecOC-protected frames verify under the new key.
...                 Run with `make renode-test` after
...                 `make firmware BOARD=NUCLEO_F446RE MICROPY_DIR=...`.
Resource            common.resource
Test Teardown       Stop Module Server And Reset Renode

*** Variables ***
${BOARD}            NUCLEO_F446RE
${CONSOLE}          sysbus.usart2
${MODULE_PORT}      4321

*** Test Cases ***
Boards Boot, Rekey And Verify Protected Traffic
    Firmware Should Exist    ${BOARD}
    ${master}    ${slave1}    ${slave2}=    Start Vehicle    vehicle_f446re.resc    ${BOARD}    ${MODULE_PORT}
    Agent Should Boot    ${master}    ${BOARD}    master
    Agent Should Boot    ${slave1}    ${BOARD}    slave
    Agent Should Boot    ${slave2}    ${BOARD}    slave
    ${epoch}=    Rekey Should Complete    ${master}
    Rekey Should Complete    ${slave1}
    Rekey Should Complete    ${slave2}
    Protected Traffic Should Verify    ${slave1}    ${epoch}
    Protected Traffic Should Verify    ${slave2}    ${epoch}
