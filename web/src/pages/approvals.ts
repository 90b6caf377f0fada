import { ApiError, get } from '../api';
import { empty } from '../app';
import { h } from '../dom';

export async function approvalsPage(main: HTMLElement) {
  main.append(h('h1', null, 'Approvals'));
  try {
    await get<unknown>('/approvals');
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      main.append(empty('This server has no approvals API.'));
      return;
    }
    throw e;
  }
}
